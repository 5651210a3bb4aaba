// Example Node gateway start-up with librunbeam (mirrors examples/c/mesh_check.c).
//
// Loads the mesh part of a gateway configuration, refuses to start on any problem (each with
// its TOML path), shows every reference the meshes list, and whether given references may be
// resolved (mesh context).
//
//   node examples/node/mesh_check.mjs examples/config/ai-analytics.toml [REFERENCE ...]
//
// Exit status: 0 valid, 1 configuration problems, 2 load error.
// (An installed gateway imports '@runbeam/sdk'; this example imports the package from the repo.)
import { MeshConfig, Reference, version } from '../../bindings/node/index.mjs'

function describe(ref) {
  const local = ref.isLocal ? ' (local)' : ''
  return `provider=${ref.provider} team=${ref.team ?? '-'} type=${ref.type ?? '-'} ` +
    `lookup=${ref.lookup} value=${ref.value}${local}`
}

function main(argv) {
  const [path, ...references] = argv
  if (!path) {
    console.error('usage: node examples/node/mesh_check.mjs CONFIG.toml [REFERENCE ...]')
    return 2
  }
  console.log(`[Node] librunbeam ${version()}: ${path}`)
  let config
  try {
    config = MeshConfig.fromFile(path)
  } catch (e) {
    console.log(`  cannot load: ${e.code}: ${e.message}`)
    return 2
  }

  const problems = config.validate()
  if (problems.length > 0) {
    console.log(`  configuration has ${problems.length} problem(s) (the gateway refuses to start):`)
    for (const p of problems) console.log(`    [${p.kind}] ${p.path}: ${p.message}`)
  } else {
    console.log('  configuration is valid')
  }

  for (const mesh of config.meshes()) {
    for (const [direction, listed] of [['ingress', mesh.ingress], ['egress', mesh.egress]]) {
      for (const text of listed) {
        console.log(`  mesh ${mesh.name} ${direction} ${text}\n      ${describe(Reference.parse(text))}`)
      }
    }
  }

  for (const text of references) {
    console.log(`  resolve? ${text}`)
    try {
      console.log(`    yes, through mesh '${config.checkMeshContext(text)}'`)
    } catch (e) {
      const prefix = e.code === 'RUNBEAM_INVALID_REFERENCE' ? '' : 'no: '
      console.log(`    ${prefix}${e.code}: ${e.message}`)
    }
  }
  return problems.length > 0 ? 1 : 0
}

process.exitCode = main(process.argv.slice(2))
