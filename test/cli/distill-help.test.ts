import {describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'

/** distill --help says where each loss and default comes from (issue 21, point 6). */
describe('distill --help', () => {
  it('cites the reference of stage 2\'s frozen MLPs and of stage 3\'s temperature and T² factor', () => {
    const r = runCli(['distill', '--help'], {COLUMNS: '200'})
    expect(r.status, r.stderr).toBe(0)
    const text = r.stdout.replace(/\s+/g, ' ')
    expect(text).toContain("goombalab/phi-mamba's assets/mohawk_stage2.py (freeze_mlp = True: only the mixer trains)")
    expect(text).toContain("jxiw/MambaInLlama's loss (trainer/kd_trainer.py")
    expect(text).toContain('examples/research_projects/distillation/distiller.py')
    expect(text).toContain('applied to student and teacher, the loss scaled by T²')
  })
})

describe('distill --precision', () => {
  it('offers f32 and mixed, and refuses anything else in one line with the flag-error exit status', () => {
    const help = runCli(['distill', '--help'], {COLUMNS: '200'})
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/--precision=<option> .*<options: f32\|mixed>/)
    const r = runCli(['distill', 'hybrid', '--teacher', 't', '--data', 'brown', '--out', 'x', '--precision', 'bf16'])
    expect(r.status).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/precision/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
