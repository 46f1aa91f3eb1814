export interface CurveComparison {
  ahead: number[]
  behind: number[]
  level: number[]
  crossings: {after: number; by: number; to: 'ahead' | 'behind'}[]
}
/** Where a student's curve stands against the teacher's at each budget, and where it crosses. */
export function compareCurves(budgets: readonly number[], teacher: readonly number[], student: readonly number[]): CurveComparison
/** One sentence for compareCurves' result. */
export function describeComparison(name: string, metric: string, c: CurveComparison): string
