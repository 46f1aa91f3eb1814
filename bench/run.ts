// `npm run bench -- [flags]`: the kernel benchmarks (main.ts), run from the sources by vite-node.
import {main} from './main.js'

await main(process.argv.slice(2))
process.exit(0)
