export const DEFAULT_ENDPOINT = 'https://huggingface.co'

/** $HF_ENDPOINT (a mirror such as https://hf-mirror.com), else the public hub; no trailing slash. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT).replace(/\/+$/, '')
}

/** HF_HUB_OFFLINE=1 (or true/yes/on, as huggingface_hub reads it): never touch the network. */
export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTruthy(env.HF_HUB_OFFLINE)
}

/** HF_HUB_DISABLE_PROGRESS_BARS=1 turns the download bars off. */
export function progressBarsDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return isTruthy(env.HF_HUB_DISABLE_PROGRESS_BARS)
}

function isTruthy(value: string | undefined): boolean {
  return ['1', 'true', 'yes', 'on'].includes((value ?? '').trim().toLowerCase())
}
