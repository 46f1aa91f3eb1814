import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {hfHome} from './home.js'

/**
 * The hub token, in huggingface_hub's order: the --token flag, $HF_TOKEN (or its legacy name
 * HUGGING_FACE_HUB_TOKEN), then the file `hf auth login` writes ($HF_TOKEN_PATH, else <HF_HOME>/token).
 * Callers must keep it out of every message and log line.
 */
export async function resolveToken(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const given = [flag, env.HF_TOKEN, env.HUGGING_FACE_HUB_TOKEN].map((t) => t?.trim()).find(Boolean)
  if (given) return given
  try {
    return (await readFile(tokenPath(env), 'utf8')).trim() || undefined
  } catch {
    return undefined
  }
}

export function tokenPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_TOKEN_PATH || join(hfHome(env), 'token')
}
