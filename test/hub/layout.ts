import {lstat, readdir, readFile, readlink} from 'node:fs/promises'
import {join} from 'node:path'

/**
 * Every entry under `dir`, sorted, one line each: `path -> target` for links, `path = text` for files under refs/,
 * `path (N bytes)` for other files; folders appear through their contents.
 */
export async function listing(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name
    const abs = join(dir, rel)
    const info = await lstat(abs)
    if (info.isSymbolicLink()) out.push(`${rel} -> ${await readlink(abs)}`)
    else if (info.isDirectory()) out.push(...await listing(dir, rel))
    else if (rel.startsWith('refs/')) out.push(`${rel} = ${await readFile(abs, 'utf8')}`)
    else out.push(`${rel} (${info.size} bytes)`)
  }
  return out.sort()
}
