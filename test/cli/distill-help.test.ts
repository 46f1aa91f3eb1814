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
