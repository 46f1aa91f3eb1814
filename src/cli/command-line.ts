/** The command line a user ran, quoted for a POSIX shell: what provenance.json and model cards record. */
export function commandLine(id: string, argv: string[]): string {
  return ['hybridize', id, ...argv].map(quote).join(' ')
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}
