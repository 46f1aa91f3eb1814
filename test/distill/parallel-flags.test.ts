import {describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'

/** The flags of --devices and --workers, refused before anything loads (the models named here do not exist). */
const base = ['distill', 'no-student/', '--teacher', 'no-teacher/', '--data', 'brown', '--out', 'no-run/', '--device', 'cpu']
const noScheduler = {SLURM_ARRAY_TASK_ID: '', SLURM_ARRAY_TASK_MIN: '', SLURM_ARRAY_TASK_COUNT: '', JOB_COMPLETION_INDEX: ''}

describe('distill --devices and --workers', () => {
  it.each([
    [['--workers', '2'], /^hybridize: error: --workers and --worker-index need --sync-dir/],
    [['--sync-dir', 'sync/', '--worker-index', '0'], /^hybridize: error: --sync-dir: give --workers \(or run as a Slurm array task\)/],
    [['--sync-dir', 'sync/', '--workers', '2', '--worker-index', '2', '--stage', '3'], /^hybridize: error: --worker-index 2: expected 0 to 1 for --workers 2/],
    [['--devices', '2'], /^hybridize: error: --devices train stage 3 only \(--stage 3\)/],
    [['--devices', 'two', '--stage', '3'], /^hybridize: error: --devices two: expected a number of devices >= 1, or all/],
  ])('refuses %j as a usage error', (extra, message) => {
    const r = runCli([...base, ...extra], noScheduler)
    expect(r.stderr).toMatch(message)
    expect(r.status).toBe(2)
  })

  it("takes the worker from a Slurm array's variables, counted from the array's first task", () => {
    // Task 6 of an array 4-5 is worker 2 of 2: out of range, which shows both variables were read.
    const r = runCli([...base, '--sync-dir', 'sync/', '--stage', '3'], {...noScheduler, SLURM_ARRAY_TASK_ID: '6', SLURM_ARRAY_TASK_MIN: '4', SLURM_ARRAY_TASK_COUNT: '2'})
    expect(r.stderr).toMatch(/^hybridize: error: --worker-index 2: expected 0 to 1 for --workers 2/)
    expect(r.status).toBe(2)
  })

  it("takes the worker from a Kubernetes Indexed Job's JOB_COMPLETION_INDEX", () => {
    const r = runCli([...base, '--sync-dir', 'sync/', '--workers', '2', '--stage', '3'], {...noScheduler, JOB_COMPLETION_INDEX: '3'})
    expect(r.stderr).toMatch(/^hybridize: error: --worker-index 3: expected 0 to 1 for --workers 2/)
    expect(r.status).toBe(2)
  })
})
