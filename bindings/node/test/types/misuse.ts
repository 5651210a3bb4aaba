// Must NOT compile (package.test.cjs checks that the declarations reject it).
import { Client, IssuedMeshToken, MeshConfig, Outbound, Reference, Resolver, Validator, parseBearer, prometheusText, refusalFor, setLogger, type Resolution } from '@runbeam/sdk'
import * as expressEdge from '@runbeam/sdk/express'
import * as fastifyEdge from '@runbeam/sdk/fastify'

const n: number = Reference.parse('x').type
Reference.parse(42)
MeshConfig.fromFiles('a.toml')
MeshConfig.fromToml('').inMeshContext(42)
Reference.parse('x').provider = 'other'
void new Client('http://127.0.0.1').updateConfig('widget', '')
void new Client('http://127.0.0.1').acknowledgeChanges('change-1')
void new Client('http://127.0.0.1').update('services', { description: 'no id' })
void new Validator({ trustedIssuers: ['https://x.example/api'], algorithms: ['HS256'] })
const sync: string = new Validator({ jwksUrl: 'https://x.example/jwks.json' }).validateCached('t').sub
void new Validator({ jwksUrl: 'https://x.example/jwks.json' }).verifyMeshToken('t')
parseBearer(undefined)
void new Client('http://127.0.0.1').update({ type: 'pipeline', config: '' })
new Resolver({ config: 'gateway.toml', client: new Client('http://127.0.0.1'), tokenManager: {} })
const res: Resolution = ({} as Resolver).resolveCached('x')
void ({} as Resolver).meshToken('mesh')
;({} as IssuedMeshToken).token = 'x'
void new Client('http://127.0.0.1').authorize('gw', ['metadata'])
void new Client('http://127.0.0.1').jwks({ signal: 'abort' })
void new Client('http://127.0.0.1').get('widgets', 'id')
void new Client('http://127.0.0.1').create('services', { url: 42 })
void (async () => { const url: number | undefined = (await new Client('http://127.0.0.1').get('services', 'id')).url; console.log(url) })()
void (async () => { const code: string | undefined = (await new Client('http://127.0.0.1').get('services', 'id')).code; console.log(code) })()
void (async () => { for await (const s of new Client('http://127.0.0.1').listAll('ingresses')) { const urls: number[] = s.urls; console.log(urls) } })()
setLogger((record) => console.log(record.level === 'verbose'))
setLogger(() => {}, 'loud')
prometheusText([new Validator({ jwksUrl: 'https://x.example/jwks.json' })])
;({} as Resolver).watch((event) => { const n: number = event.kind; console.log(n) })
void ({} as Validator).authenticate(42)
const out: string = ({} as Resolver).outboundCached('x', '/a')
refusalFor(new Error('x'), 'inbound')
;({} as Outbound).authorization = 'Bearer x'
expressEdge.authenticate({ resolver: {} as Resolver })
expressEdge.meshGuard({ resolver: {} as Resolver })
void fastifyEdge.refuse({}, new Error('x'))
console.log(n, sync, res, out)
