// Compiled by package.test.cjs against index.d.ts (strict): how TypeScript users call the SDK.
import { MeshConfig, Reference, errorCodes, version } from '@runbeam/sdk'
import type { Lookup, Mesh, Problem, RemoteReference, ResourceType, RunbeamError } from '@runbeam/sdk'

const r: Reference = Reference.parse('runbeam.acme.ingress.name.api')
const same: Reference = new Reference('runbeam.acme.ingress.name.api')
const provider: string = r.provider
const team: string | null = r.team
const type: ResourceType | null = r.type
const lookup: Lookup = r.lookup
const value: string = r.value
const local: boolean = r.isLocal
const equal: boolean = r.equals(same)
const text: string = r.toString() + r.toJSON()

const config: MeshConfig = MeshConfig.fromFiles(['a.toml', 'b.toml'])
const other: MeshConfig = MeshConfig.fromToml('') ?? MeshConfig.fromFile('a.toml')
const problems: Problem[] = config.validate()
const inContext: boolean = config.inMeshContext(r) && config.inMeshContext('x')
const mesh: string = config.checkMeshContext(r) + config.checkMeshContext('x')
const remote: RemoteReference[] = config.remoteReferences()
const remoteReference: Reference = remote[0].reference
const direction: 'ingress' | 'egress' = remote[0].direction
const meshes: Mesh[] = other.meshes()
const description: string | null = meshes[0].description
const protocol: 'http' | 'http3' = meshes[0].type
const codes: string[] = errorCodes()
const v: string = version()

try {
  Reference.parse('x')
} catch (e) {
  const error = e as RunbeamError
  const code: string = error.code
  const kind: string = error.kind
  const paths: string[] | undefined = error.problems?.map((p) => p.path)
  console.log(code, kind, paths)
}

console.log(provider, team, type, lookup, value, local, equal, text, problems, inContext, mesh)
console.log(remoteReference, direction, description, protocol, codes, v)
