/** `defaults` with every field `given` sets (a field given as undefined keeps its default, as an absent flag does). */
export function withDefaults<T extends object>(defaults: T, given: Partial<T>): T {
  const set = Object.entries(given).filter(([, value]) => value !== undefined)
  return {...defaults, ...(Object.fromEntries(set) as Partial<T>)}
}
