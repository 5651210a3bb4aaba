// Must NOT compile (package.test.cjs checks that the declarations reject it).
import { MeshConfig, Reference } from '@runbeam/sdk'

const n: number = Reference.parse('x').type
Reference.parse(42)
MeshConfig.fromFiles('a.toml')
MeshConfig.fromToml('').inMeshContext(42)
Reference.parse('x').provider = 'other'
console.log(n)
