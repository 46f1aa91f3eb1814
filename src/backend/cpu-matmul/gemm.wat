;; f32 GEMM over packed panels with a 4x8 SIMD128 register tile.
;; Compiled by scripts/build-wasm.mjs into gemm-wasm.ts; see pack.ts for the panel layout.
;;
;; Packed A, one K block of kc steps:  [Mp/4 panels][kc][4]   (Mp = rows padded to 4)
;; Packed B, one K block of kc steps:  [Np/8 panels][kc][8]   (Np = cols padded to 8)
;; K blocks follow each other: block p of A starts at p*kcBlock*Mp floats (B: p*kcBlock*Np).
;; C is row-major [Mp, Np]. All addresses are byte offsets into the shared memory.
;;
;; Multiply and add stay separate: fused multiply-add is relaxed SIMD, which Node 20 ships
;; only behind a flag. 4x8 was the fastest tile measured here (8 accumulators, 2 B vectors,
;; 1 broadcast and 1 product fit x64's 16 vector registers without spills).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; C[4, 8] = (accumulate ? C : 0) + A panel (kc x 4)ᵀ · B panel (kc x 8). ldc in bytes.
  (func $tile (param $a i32) (param $b i32) (param $c i32) (param $kc i32) (param $ldc i32) (param $accumulate i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $ai v128)
    (loop $k
      (local.set $b0 (v128.load offset=0 (local.get $b)))
      (local.set $b1 (v128.load offset=16 (local.get $b)))
      (local.set $ai (v128.load32_splat offset=0 (local.get $a)))
      (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $ai) (local.get $b0))))
      (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $ai) (local.get $b1))))
      (local.set $ai (v128.load32_splat offset=4 (local.get $a)))
      (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $ai) (local.get $b0))))
      (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $ai) (local.get $b1))))
      (local.set $ai (v128.load32_splat offset=8 (local.get $a)))
      (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $ai) (local.get $b0))))
      (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $ai) (local.get $b1))))
      (local.set $ai (v128.load32_splat offset=12 (local.get $a)))
      (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $ai) (local.get $b0))))
      (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $ai) (local.get $b1))))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (local.set $b (i32.add (local.get $b) (i32.const 32)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (if (local.get $accumulate)
      (then
        (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c00)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c01)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c10)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c11)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c20)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c21)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c30)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c31))))
      (else
        (v128.store offset=0 (local.get $c) (local.get $c00))
        (v128.store offset=16 (local.get $c) (local.get $c01))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (local.get $c10))
        (v128.store offset=16 (local.get $c) (local.get $c11))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (local.get $c20))
        (v128.store offset=16 (local.get $c) (local.get $c21))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store offset=0 (local.get $c) (local.get $c30))
        (v128.store offset=16 (local.get $c) (local.get $c31)))))

  ;; For each of `batch` problems (A, B, C advanced by their byte strides; bStride 0 shares B),
  ;; the C tiles of row panels [i0, i1) and column panels [j0, j1): C = A · B.
  ;; mPanels and nPanels are the whole padded sizes (Mp/4, Np/8), which set the strides.
  ;; Needs k >= 1, i0 < i1, j0 < j1.
  ;; Loop order: K block, then 32-panel (128-row) slabs of A kept in L2, then one B panel kept in
  ;; L1 while every A panel of the slab streams past it.
  (func (export "gemm")
    (param $a i32) (param $b i32) (param $c i32)
    (param $batch i32) (param $aStride i32) (param $bStride i32) (param $cStride i32)
    (param $mPanels i32) (param $nPanels i32) (param $k i32) (param $kcBlock i32)
    (param $i0 i32) (param $i1 i32) (param $j0 i32) (param $j1 i32)
    (local $z i32) (local $p i32) (local $kc i32) (local $aBlock i32) (local $bBlock i32)
    (local $slab i32) (local $slabEnd i32) (local $i i32) (local $j i32) (local $ldc i32)
    (local.set $ldc (i32.shl (local.get $nPanels) (i32.const 5)))
    (block $done
      (loop $batches
        (br_if $done (i32.ge_u (local.get $z) (local.get $batch)))
        (local.set $p (i32.const 0))
        (loop $kBlocks
          (local.set $kc (select (local.get $kcBlock) (i32.sub (local.get $k) (local.get $p))
            (i32.lt_u (local.get $kcBlock) (i32.sub (local.get $k) (local.get $p)))))
          ;; Block p starts p*Mp floats = p * mPanels*16 bytes into packed A (p*nPanels*32 into B).
          (local.set $aBlock (i32.add (local.get $a) (i32.mul (local.get $p) (i32.shl (local.get $mPanels) (i32.const 4)))))
          (local.set $bBlock (i32.add (local.get $b) (i32.mul (local.get $p) (i32.shl (local.get $nPanels) (i32.const 5)))))
          (local.set $slab (local.get $i0))
          (loop $slabs
            (local.set $slabEnd (select (local.get $i1) (i32.add (local.get $slab) (i32.const 32))
              (i32.lt_u (local.get $i1) (i32.add (local.get $slab) (i32.const 32)))))
            (local.set $j (local.get $j0))
            (loop $cols
              (local.set $i (local.get $slab))
              (loop $rows
                (call $tile
                  (i32.add (local.get $aBlock) (i32.mul (local.get $i) (i32.shl (local.get $kc) (i32.const 4))))
                  (i32.add (local.get $bBlock) (i32.mul (local.get $j) (i32.shl (local.get $kc) (i32.const 5))))
                  (i32.add (local.get $c)
                    (i32.add (i32.mul (local.get $i) (i32.shl (local.get $ldc) (i32.const 2)))
                             (i32.shl (local.get $j) (i32.const 5))))
                  (local.get $kc) (local.get $ldc) (local.get $p))
                (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $slabEnd))))
              (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $j1))))
            (br_if $slabs (i32.lt_u (local.tee $slab (local.get $slabEnd)) (local.get $i1))))
          (br_if $kBlocks (i32.lt_u (local.tee $p (i32.add (local.get $p) (local.get $kcBlock))) (local.get $k))))
        (local.set $a (i32.add (local.get $a) (local.get $aStride)))
        (local.set $b (i32.add (local.get $b) (local.get $bStride)))
        (local.set $c (i32.add (local.get $c) (local.get $cStride)))
        (local.set $z (i32.add (local.get $z) (i32.const 1)))
        (br $batches))))
)
