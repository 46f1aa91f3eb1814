#!/usr/bin/env node
// Kernel benchmarks over the built library (npm run bench builds first). See src/bench/main.ts.
import {main} from '../dist/bench/main.js'

await main(process.argv.slice(2))
process.exit(0)
