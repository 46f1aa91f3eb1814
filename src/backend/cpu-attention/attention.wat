;; f32 causal softmax attention forward with SIMD128, one query row at a time.
;; Compiled by scripts/build-wasm.mjs into attention-wasm.ts; attention-fast.ts lays out memory.
;;
;; q, out: [batch, tq, hq, d]    k, v: [batch, tk, hkv, d] (then 3 spare rows: score groups read past the last key)
;; mask: [hq] (1 where no head mask)    probs: [batch, hq, tq, tk]    scratch: tk + 4 floats
;; All addresses are byte offsets into the memory; d must be a multiple of 4.
;; Multiply and add stay separate (fused multiply-add is relaxed SIMD, behind a flag in Node 20).
(module
  (import "env" "memory" (memory 1 65536))

  ;; Lane 0 of max(v over lanes) / sum over lanes.
  (func $hmax (param $v v128) (result f32)
    (local.set $v (f32x4.max (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32x4.extract_lane 0 (f32x4.max (local.get $v) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $v) (local.get $v)))))
  (func $hsum (param $v v128) (result f32)
    (local.set $v (f32x4.add (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
    (f32x4.extract_lane 0 (f32x4.add (local.get $v) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $v) (local.get $v)))))

  ;; Units [u0, u1) of batch*hq, unit u = b*hq + h: every query row of head h in batch entry b.
  ;; Query row t sees keys 0 .. t + tk - tq. Probabilities go to `probs` when withProbs is not 0.
  (func (export "attend")
    (param $q i32) (param $k i32) (param $v i32) (param $out i32) (param $mask i32)
    (param $probs i32) (param $withProbs i32) (param $scratch i32)
    (param $tq i32) (param $tk i32) (param $hq i32) (param $hkv i32) (param $d i32) (param $scale f32)
    (param $u0 i32) (param $u1 i32)
    (local $u i32) (local $b i32) (local $h i32) (local $t i32) (local $n i32) (local $s i32) (local $i i32) (local $j i32)
    (local $db i32) (local $kvStride i32) (local $qStride i32) (local $kBase i32) (local $vBase i32)
    (local $qRow i32) (local $outRow i32) (local $probsRow i32) (local $kRow i32) (local $vRow i32)
    (local $headScale f32) (local $sum f32) (local $f v128) (local $mx v128) (local $w v128) (local $qv v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $en v128) (local $er v128) (local $ep v128)
    (local.set $db (i32.shl (local.get $d) (i32.const 2)))
    (local.set $kvStride (i32.mul (local.get $hkv) (local.get $db)))
    (local.set $qStride (i32.mul (local.get $hq) (local.get $db)))
    (local.set $u (local.get $u0))
    (block $unitsDone (loop $units
      (br_if $unitsDone (i32.ge_u (local.get $u) (local.get $u1)))
      (local.set $b (i32.div_u (local.get $u) (local.get $hq)))
      (local.set $h (i32.rem_u (local.get $u) (local.get $hq)))
      (local.set $headScale (f32.load (i32.add (local.get $mask) (i32.shl (local.get $h) (i32.const 2)))))
      ;; Key/value head h / (hq / hkv) of entry b.
      (local.set $kBase (i32.add
        (i32.mul (local.get $b) (i32.mul (local.get $tk) (local.get $kvStride)))
        (i32.mul (i32.div_u (local.get $h) (i32.div_u (local.get $hq) (local.get $hkv))) (local.get $db))))
      (local.set $vBase (i32.add (local.get $v) (local.get $kBase)))
      (local.set $kBase (i32.add (local.get $k) (local.get $kBase)))
      (local.set $qRow (i32.add
        (i32.mul (local.get $b) (i32.mul (local.get $tq) (local.get $qStride)))
        (i32.mul (local.get $h) (local.get $db))))
      (local.set $outRow (i32.add (local.get $out) (local.get $qRow)))
      (local.set $qRow (i32.add (local.get $q) (local.get $qRow)))
      (local.set $probsRow (i32.add (local.get $probs) (i32.shl (i32.mul (i32.mul (local.get $u) (local.get $tq)) (local.get $tk)) (i32.const 2))))
      (local.set $t (i32.const 0))
      (loop $rows
        (local.set $n (i32.add (local.get $t) (i32.add (i32.sub (local.get $tk) (local.get $tq)) (i32.const 1))))

        ;; Scores of keys 4 at a time: four dot products, then their lanes summed into one vector.
        (local.set $s (i32.const 0))
        (local.set $kRow (local.get $kBase))
        (loop $scores
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (loop $dot
            (local.set $qv (v128.load (i32.add (local.get $qRow) (local.get $i))))
            (local.set $j (i32.add (local.get $kRow) (local.get $i)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $qv) (v128.load (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (local.get $kvStride)))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $qv) (v128.load (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (local.get $kvStride)))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $qv) (v128.load (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (local.get $kvStride)))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $qv) (v128.load (local.get $j)))))
            (br_if $dot (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 16))) (local.get $db))))
          ;; [a0 lanes 0+2, a1 0+2, a0 1+3, a1 1+3] and the same for a2, a3; then the halves summed.
          (local.set $a0 (f32x4.add
            (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
          (local.set $a2 (f32x4.add
            (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
            (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
          (v128.store
            (i32.add (local.get $scratch) (i32.shl (local.get $s) (i32.const 2)))
            (f32x4.mul (f32x4.splat (local.get $scale)) (f32x4.add
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a0) (local.get $a2))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a0) (local.get $a2)))))
          (local.set $kRow (i32.add (local.get $kRow) (i32.shl (local.get $kvStride) (i32.const 2))))
          (br_if $scores (i32.lt_u (local.tee $s (i32.add (local.get $s) (i32.const 4))) (local.get $n))))
        ;; The last group's keys past n are not attended.
        (local.set $j (local.get $n))
        (block $tailDone (loop $tail
          (br_if $tailDone (i32.ge_u (local.get $j) (local.get $s)))
          (f32.store (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 2))) (f32.const -inf))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $tail)))

        ;; Softmax numerators e^(score - max), in place, and their sum.
        (local.set $mx (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $j (i32.const 0))
        (loop $max
          (local.set $mx (f32x4.max (local.get $mx) (v128.load (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 2))))))
          (br_if $max (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $s))))
        (local.set $mx (f32x4.splat (call $hmax (local.get $mx))))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $j (local.get $scratch))
        (local.set $i (i32.add (local.get $scratch) (i32.shl (local.get $s) (i32.const 2))))
        (loop $exps
          (local.set $w (f32x4.sub (v128.load (local.get $j)) (local.get $mx)))
          ;; e^w per lane, w <= 0, inline (as a called function: 17 ms instead of 14 on find-heads' shape):
          ;; Cephes expf, w = n ln2 + r, a degree-7 polynomial in r, 2^n by exponent bits. w below -88
          ;; (e^w near the bottom of the normal range) gives exactly 0, -inf included.
          (local.set $w (f32x4.max (local.get $w) (v128.const f32x4 -88 -88 -88 -88)))
          (local.set $en (f32x4.nearest (f32x4.mul (local.get $w) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
          (local.set $er (f32x4.sub
            (f32x4.sub (local.get $w) (f32x4.mul (local.get $en) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
            (f32x4.mul (local.get $en) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
          (local.set $ep (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
          (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
          (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
          (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
          (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
          (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
          (local.set $ep (f32x4.add
            (f32x4.add (f32x4.mul (local.get $ep) (f32x4.mul (local.get $er) (local.get $er))) (local.get $er))
            (v128.const f32x4 1 1 1 1)))
          ;; n is in [-127, 0]; n = -127 makes the exponent bits 0, so the product is 0.
          (local.set $w (f32x4.mul (local.get $ep)
            (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $en)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
          (v128.store (local.get $j) (local.get $w))
          (local.set $a0 (f32x4.add (local.get $a0) (local.get $w)))
          (br_if $exps (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 16))) (local.get $i))))
        (local.set $sum (call $hsum (local.get $a0)))
        (local.set $f (f32x4.splat (f32.div (local.get $headScale) (local.get $sum))))

        ;; Output = numerators · values / sum * headScale, 16 features at a time, then 4 at a time.
        (local.set $i (i32.const 0))
        (block $wideDone (loop $wide
          (br_if $wideDone (i32.gt_u (i32.add (local.get $i) (i32.const 64)) (local.get $db)))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $a1 (v128.const i32x4 0 0 0 0))
          (local.set $a2 (v128.const i32x4 0 0 0 0))
          (local.set $a3 (v128.const i32x4 0 0 0 0))
          (local.set $vRow (i32.add (local.get $vBase) (local.get $i)))
          (local.set $j (local.get $scratch))
          (local.set $s (i32.add (local.get $scratch) (i32.shl (local.get $n) (i32.const 2))))
          (loop $keys
            (local.set $w (v128.load32_splat (local.get $j)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load offset=0 (local.get $vRow)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $vRow)))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $vRow)))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $vRow)))))
            (local.set $vRow (i32.add (local.get $vRow) (local.get $kvStride)))
            (br_if $keys (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $s))))
          (local.set $j (i32.add (local.get $outRow) (local.get $i)))
          (v128.store offset=0 (local.get $j) (f32x4.mul (local.get $a0) (local.get $f)))
          (v128.store offset=16 (local.get $j) (f32x4.mul (local.get $a1) (local.get $f)))
          (v128.store offset=32 (local.get $j) (f32x4.mul (local.get $a2) (local.get $f)))
          (v128.store offset=48 (local.get $j) (f32x4.mul (local.get $a3) (local.get $f)))
          (local.set $i (i32.add (local.get $i) (i32.const 64)))
          (br $wide)))
        (block $narrowDone (loop $narrow
          (br_if $narrowDone (i32.ge_u (local.get $i) (local.get $db)))
          (local.set $a0 (v128.const i32x4 0 0 0 0))
          (local.set $vRow (i32.add (local.get $vBase) (local.get $i)))
          (local.set $j (local.get $scratch))
          (local.set $s (i32.add (local.get $scratch) (i32.shl (local.get $n) (i32.const 2))))
          (loop $keys1
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $j)) (v128.load (local.get $vRow)))))
            (local.set $vRow (i32.add (local.get $vRow) (local.get $kvStride)))
            (br_if $keys1 (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $s))))
          (v128.store (i32.add (local.get $outRow) (local.get $i)) (f32x4.mul (local.get $a0) (local.get $f)))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $narrow)))

        ;; Probabilities, one float at a time: rows need not be 16-byte aligned, and a vector store
        ;; past a row's end could overwrite a row another thread has written.
        (if (local.get $withProbs) (then
          (local.set $sum (f32.div (f32.const 1) (local.get $sum)))
          (local.set $j (i32.const 0))
          (block $probsDone (loop $probsLoop
            (br_if $probsDone (i32.ge_u (local.get $j) (local.get $tk)))
            (f32.store
              (i32.add (local.get $probsRow) (i32.shl (local.get $j) (i32.const 2)))
              (select
                (f32.mul (f32.load (i32.add (local.get $scratch) (i32.shl (local.get $j) (i32.const 2)))) (local.get $sum))
                (f32.const 0)
                (i32.lt_u (local.get $j) (local.get $n))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $probsLoop)))
          (local.set $probsRow (i32.add (local.get $probsRow) (i32.shl (local.get $tk) (i32.const 2))))))

        (local.set $qRow (i32.add (local.get $qRow) (local.get $qStride)))
        (local.set $outRow (i32.add (local.get $outRow) (local.get $qStride)))
        (br_if $rows (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $tq))))
      (local.set $u (i32.add (local.get $u) (i32.const 1)))
      (br $units))))
)
