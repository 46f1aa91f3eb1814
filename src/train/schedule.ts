/**
 * Warmup-stable-decay learning rate (as in MOHAWK / Llamba distillation): a linear warmup from 0
 * over the first `warmup` fraction of the steps, the peak rate, then a linear decay to `floor`
 * over the last `decay` fraction. `step` counts from 0 to totalSteps − 1.
 */
export interface WsdSchedule {
  peak: number
  totalSteps: number
  /** Fraction of the steps spent warming up (default 0.1). */
  warmup?: number
  /** Fraction of the steps spent decaying (default 0.1). */
  decay?: number
  /** Rate reached at the end of the decay (default 1e-8). */
  floor?: number
}

export function wsdLearningRate(step: number, s: WsdSchedule): number {
  const warmupSteps = Math.round((s.warmup ?? 0.1) * s.totalSteps)
  const decaySteps = Math.round((s.decay ?? 0.1) * s.totalSteps)
  const floor = s.floor ?? 1e-8
  if (step < warmupSteps) return (s.peak * step) / warmupSteps
  const decayStart = s.totalSteps - decaySteps
  if (step < decayStart) return s.peak
  const progress = Math.min(1, (step - decayStart + 1) / decaySteps)
  return s.peak + (floor - s.peak) * progress
}
