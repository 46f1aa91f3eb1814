// The part of madge's API (https://github.com/pahen/madge#api) that test/architecture.test.ts uses; madge ships no types.
declare module 'madge' {
  interface MadgeConfig {
    fileExtensions?: string[]
    tsConfig?: string
    detectiveOptions?: {ts?: {skipTypeImports?: boolean}}
  }
  interface MadgeInstance {
    /** Each file (relative to the base folder) and the files it imports. */
    obj(): Record<string, string[]>
    circular(): string[][]
  }
  export default function madge(path: string, config?: MadgeConfig): Promise<MadgeInstance>
}
