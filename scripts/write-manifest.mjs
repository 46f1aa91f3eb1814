#!/usr/bin/env node
/**
 * Writes oclif.manifest.json: every command's id, flags, args and help text, cached, so that
 * `hybridize --help` and `hybridize <command> --help` list commands without importing each
 * command's module (and the engine behind it). Run by `npm run build` after tsc, and by the test
 * setup, so the manifest never lags dist/ (oclif trusts it for the list of commands).
 *
 * This is what the `oclif` package's `oclif manifest` does (src/commands/manifest.ts there): load
 * the root plugin with its manifest ignored and write `plugin.manifest`. That package's current
 * line needs Node 22 and pulls in a very large dependency tree for this one call; @oclif/core,
 * already a dependency, has the API.
 */
import {rename, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Plugin} from '@oclif/core'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const file = join(root, 'oclif.manifest.json')
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true})
await plugin.load()
const temporary = `${file}.tmp-${process.pid}`
await writeFile(temporary, `${JSON.stringify(plugin.manifest, null, 2)}\n`)
await rename(temporary, file)
