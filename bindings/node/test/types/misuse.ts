// Must NOT compile (package.test.cjs checks that the declarations reject it).
import { Client, MeshConfig, Reference } from '@runbeam/sdk'

const n: number = Reference.parse('x').type
Reference.parse(42)
MeshConfig.fromFiles('a.toml')
MeshConfig.fromToml('').inMeshContext(42)
Reference.parse('x').provider = 'other'
void new Client('http://127.0.0.1').update({ type: 'widget', config: '' })
void new Client('http://127.0.0.1').acknowledgeChanges('change-1')
void new Client('http://127.0.0.1').update('services', { description: 'no id' })
console.log(n)
