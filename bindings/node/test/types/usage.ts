// Compiled by package.test.cjs against index.d.ts (strict): how TypeScript users call the SDK.
import { Client, MeshConfig, Reference, Validator, errorCodes, parseBearer, version } from '@runbeam/sdk'
import type { Backend, Collection, CollectionResources, Egress, Endpoint, Gateway, Ingress, MeshResource, Pipeline, Service, TypedPage } from '@runbeam/sdk'
import type { AuthorizedBy, CallOptions, Claims, JwtAlgorithm, ValidatorOptions, Acknowledgement, AuthorizeResult, Change, Lookup, Mesh, Page, Problem, MeshMember, ResolveResult, Resource, ResourceType, RunbeamError, UpdateKind, UpdateResult } from '@runbeam/sdk'

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
const remote: MeshMember[] = config.remoteReferences()
const remoteReference: Reference = remote[0].reference
const direction: 'ingress' | 'egress' = remote[0].direction
const meshes: Mesh[] = other.meshes()
const description: string | null = meshes[0].description
const protocol: 'http' | 'http3' = meshes[0].protocol
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

// The typed resource models: each collection's calls resolve with its model, the string form
// (a `Collection` variable) with the union of the eight, and unknown fields read as `unknown`.
async function typedResources(user: Client): Promise<void> {
  const service: Service = await user.get('services', 'id')
  const url: string | undefined = service.url
  const enabled: boolean | undefined = service.enabled
  const created: Service = await user.create('services', { name: 'svc', url: 'https://svc.example' })
  const updated: Service = await user.update('services', created.id, { description: 'd', custom: 1 })
  const gateway: Gateway = await user.get('gateways', 'id')
  const key: unknown = gateway.machine_public_key
  const code: string | undefined = gateway.code
  const teamId: string | undefined = gateway.team_id
  const createdAt: string | undefined = gateway.created_at
  const endpoint: Endpoint = await user.create('endpoints', { name: 'e', pipeline_id: 'p', path: '/x' })
  const backend: Backend = await user.update('backends', 'id', { url: 'https://b.example' })
  const pipeline: Pipeline = await user.get('pipelines', 'id')
  const gatewayId: string | undefined = pipeline.gateway_id
  const mesh: MeshResource = await user.get('meshes', 'id')
  const ingress: Ingress = await user.create('ingresses', { name: 'i', urls: ['https://i.example'] })
  const urls: string[] = ingress.urls
  const egress: Egress = await user.get('egresses', 'id')
  const backendId: string | undefined = egress.backend_id
  const page: TypedPage<Ingress> = await user.list('ingresses', { perPage: 10 })
  const firstUrls: string[] = page.data[0].urls
  const plain: Page = page
  for await (const m of user.listAll('meshes')) {
    const protocol: string | undefined = m.protocol
    console.log(protocol)
  }
  const collection: Collection = 'services' as Collection
  const any: CollectionResources[Collection] = await user.get(collection, 'id')
  const resource: Resource = any
  const asResource: Resource = await user.get('egresses', 'id')
  const kinds: Resource[] = (await user.list(collection)).data
  await user.create(collection, { name: 'x', anything: [1] } as Record<string, unknown>)
  for await (const r of user.listAll(collection)) console.log(r.id, r.name)
  console.log(url, enabled, updated, key, code, teamId, createdAt, endpoint, backend, gatewayId, mesh)
  console.log(urls, backendId, firstUrls, plain, resource, asResource, kinds)
}

void typedResources

async function cloud(): Promise<void> {
  const user = new Client('http://127.0.0.1:8080', { token: '1|secret', deadlineMs: 5000, maxAttempts: 2, maxBodyBytes: 1 << 20 })
  const granted: AuthorizeResult = await user.authorize('gw-1', { metadata: ['meta'], machinePublicKey: 'ssh-ed25519 AAAA' })
  const authorizedBy: AuthorizedBy | null = granted.gateway.authorizedBy
  const byEmail: string | undefined = authorizedBy?.email
  const controller = new AbortController()
  const signal: AbortSignal = controller.signal
  const options: CallOptions = { signal }
  await user.jwks(options)
  await user.jwks({ signal: AbortSignal.timeout(1000) })
  await user.authorize('gw-1', { signal })
  await user.list('services', { page: 2, signal })
  await user.changeFailed('id', 'error', { line: 3 }, { signal })
  for await (const item of user.listAll('services', { signal })) console.log(item.id, byEmail)
  const gateway: Client = user.withToken(granted.machineToken)
  const expiresAt: Date = granted.expiresAt
  const resolved: ResolveResult = await gateway.resolve(r)
  const urls: string[] = (await gateway.resolve('runbeam.acme.ingress.name.api')).resource.urls
  const meshToken: string = (await gateway.meshToken('mesh', 'https://x.example')).token
  const page: Page = await user.list('services', { page: 1, perPage: 10 })
  const first: Resource = page.data[0]
  const created: Resource = await user.create('services', { name: 'svc' })
  const edited: Resource = await user.update('services', created.id, { description: 'd' })
  const feed: Change[] = await gateway.changes()
  const mine: Change[] = await gateway.changes('gw-id')
  const change: Change = await gateway.change(feed[0].id)
  const changeStatus: string | null = change.status
  const acked: Acknowledgement = await gateway.acknowledgeChanges([change.id])
  const applied: boolean = (await gateway.changeApplied(change.id)).success
  await gateway.changeFailed(change.id, 'invalid TOML', { line: 3 })
  await gateway.changeFailed(change.id, 'invalid TOML')
  const kind: UpdateKind = 'pipeline'
  const pushed: UpdateResult = await gateway.updateConfig(kind, '[pipeline]')
  const action: 'created' | 'updated' = pushed.data.action
  await gateway.updateConfig('mesh', '', { id: pushed.data.id })
  console.log(edited, mine, changeStatus, acked, applied, action)
  await user.delete('services', first.id)
  for await (const item of user.listAll('gateways', { perPage: 50 })) console.log(item.id)
  try {
    await gateway.baseUrl()
  } catch (e) {
    const error = e as RunbeamError
    const status: number | null = error.status
    const retryAfterMs: number | null = error.retryAfterMs
    const fields: Record<string, string[]> | null = error.fieldErrors
    const attempts: number | null = error.attempts
    const aborted: boolean = error.name === 'AbortError' && error.code === 'RUNBEAM_CANCELLED'
    console.log(status, retryAfterMs, fields, attempts, aborted)
  }
  console.log(expiresAt, resolved, urls, meshToken)
}
void cloud

async function jwt(header: string): Promise<void> {
  const algorithms: JwtAlgorithm[] = ['RS256', 'ES256']
  const options: ValidatorOptions = { trustedIssuers: ['https://api.runbeam.io/api'], algorithms, leewayMs: 30000, audiences: ['gw'] }
  const validator = new Validator(options)
  await validator.refreshKeys()
  const token: string = parseBearer(header)
  const claims: Claims = validator.validateCached(token) ?? (await validator.validate(token))
  const email: string | null | undefined = claims.user?.email
  const team: string | undefined = claims.team?.id
  const aud: string | readonly string[] | null = claims.aud
  const exp: number = claims.exp
  const scope: unknown = claims.all.scope
  const apiBaseUrl: string = claims.apiBaseUrl()
  await validator.validate(token, { signal: AbortSignal.timeout(100) })
  await validator.verifyMeshToken(token, 'mesh', null, { signal: AbortSignal.timeout(100) })
  await validator.refreshKeys({ signal: AbortSignal.timeout(100) })
  console.log(apiBaseUrl)
  const mesh: Claims = validator.verifyMeshTokenCached(token, 'mesh', 'https://x.example') ?? (await validator.verifyMeshToken(token, 'mesh'))
  validator.flushTokenCache()
  const urls: string[] = validator.jwksUrls
  const cached: number = validator.cachedTokens
  console.log(email, team, aud, exp, scope, mesh.sub, urls, cached)
}
void jwt

// Token storage.
import { FileTokenStore, MachineToken, MemoryTokenStore, TokenManager, UserToken, openTokenStore } from '@runbeam/sdk'
import type { KeyringTokenStore, MachineTokenFields, TokenManagerOptions, TokenStoreBackend } from '@runbeam/sdk'

async function storage(): Promise<void> {
  const opened: FileTokenStore | KeyringTokenStore | MemoryTokenStore = await openTokenStore({ choice: 'auto' })
  const backend: TokenStoreBackend = opened.backend
  const file = new FileTokenStore({ root: '/tmp/x', key: 'AGE-SECRET-KEY-1' })
  const where: string = file.location('gw', 'auth')
  const fields: MachineTokenFields = { machineToken: 'mt', expiresAt: new Date(), gatewayId: 7 }
  const token = new MachineToken(fields)
  await file.saveMachineToken('gw', token)
  await file.saveMachineToken('gw', { machineToken: 'mt', expiresAt: '2030-01-01 00:00:00', gatewayId: 'g' })
  const loaded: MachineToken | null = await file.loadMachineToken('gw')
  const secret: string = token.expose() + token.machineToken
  const expires: Date = token.expiresAt
  const issued: Date | null = token.issuedAt
  const due: boolean = token.isExpired() || token.needsRenewal(60000) || token.needsRenewal()
  const left: number = token.expiresInMs
  await file.saveUserToken('gw', new UserToken({ token: 'u' }))
  const user: UserToken | null = await file.loadUserToken('gw')
  const held: boolean = await file.delete('gw', 'user_auth', { signal: AbortSignal.timeout(1000) })
  await file.saveMachineToken('gw', token, { signal: AbortSignal.timeout(1000) })
  await openTokenStore({ choice: 'file', signal: AbortSignal.timeout(1000) })
  const options: TokenManagerOptions = {
    instanceId: 'gw',
    store: new MemoryTokenStore(),
    client: new Client('http://127.0.0.1:8080'),
    credential: async () => 'token',
    renewalWindowMs: 60000,
    onRenewalWindow: (t: MachineToken) => void t.expiresAt,
  }
  const manager = new TokenManager(options)
  const ensured: MachineToken = await manager.ensureToken({ signal: AbortSignal.timeout(1000) })
  const current: MachineToken | null = await manager.current()
  await manager.revoke()
  new TokenManager({ instanceId: 'gw', store: file, apiUrl: 'http://127.0.0.1:8080', credential: 'x', gatewayCode: 'g' })
  void [backend, where, loaded, secret, expires, issued, due, left, user, held, ensured, current]
}
void storage

// Reference resolution and mesh tokens.
import { IssuedMeshToken, Resolver } from '@runbeam/sdk'
import type { Resolution, ResolverOptions, ResolverStats } from '@runbeam/sdk'

async function resolution(): Promise<void> {
  const client = new Client('http://127.0.0.1:8080')
  const tokenManager = new TokenManager({ instanceId: 'gw', store: new MemoryTokenStore(), client })
  const config: MeshConfig = MeshConfig.fromFile('gateway.toml').withProviderApi('runbeam', 'http://127.0.0.1:8080')
  const validator = new Validator({ jwksUrl: 'https://api.runbeam.io/api/.well-known/jwks.json', leewayMs: 5000 })
  const options: ResolverOptions = { config, client, tokenManager, maxStaleMs: 60000, meshTokenMarginMs: 30000, meshTokenCapacity: 16, validator }
  const resolver = new Resolver(options)
  resolver.validateStartup()
  const hit: Resolution | null = resolver.resolveCached('runbeam.acme.ingress.name.api')
  const answer: Resolution = hit ?? (await resolver.resolve(Reference.parse('runbeam.acme.ingress.name.api')))
  const urls: string[] = answer.resource.urls
  const flags: boolean = answer.isStale || answer.isLocal
  const at: string = answer.resolvedAt.toISOString() + answer.provider
  const issued: IssuedMeshToken = await resolver.meshToken('mesh', urls[0], { signal: AbortSignal.timeout(1000) })
  await resolver.resolve('runbeam.acme.ingress.name.api', { signal: AbortSignal.timeout(1000) })
  await resolver.verifyMeshToken('t', 'mesh', undefined, { signal: AbortSignal.timeout(1000) })
  const bearer: string = issued.token + issued.expose()
  const expires: Date = issued.expiresAt
  const meshNames: string = issued.mesh + issued.meshId
  const claims: Claims = issued.claims
  const verified: Claims = resolver.verifyMeshTokenCached(bearer, 'mesh', urls[0]) ?? (await resolver.verifyMeshToken(bearer, 'mesh'))
  const dropped: boolean = resolver.invalidate('runbeam.acme.ingress.name.api')
  resolver.invalidateAll()
  resolver.reload(config)
  const inUse: MeshConfig = resolver.config
  const stats: ResolverStats = resolver.stats()
  const count: number = resolver.cachedReferences + stats.hits + stats.upstreamRequests
  void [flags, at, expires, meshNames, claims, verified, dropped, inUse, count]
}
void resolution

// Operating it: logging, stats, Prometheus text.
import { PROMETHEUS_CONTENT_TYPE, logLevel, prometheusText, setLogLevel, setLogger } from '@runbeam/sdk'
import type { LogLevel, LogRecord, MetricSources, TokenManagerStats, ValidatorStats } from '@runbeam/sdk'

function operations(resolver: Resolver, validator: Validator, manager: TokenManager): void {
  setLogger((record: LogRecord) => {
    const level: LogLevel = record.level
    const line: string = `${record.time.toISOString()} ${level} ${record.target} ${record.message}`
    const backend: string | undefined = record.fields.backend
    console.log(line, backend)
  }, 'warn')
  setLogger((record) => void record.message)
  setLogLevel('debug')
  const current: LogLevel | null = logLevel()
  setLogger(null)
  const s: ResolverStats = resolver.stats()
  const notInMesh: number | undefined = s.errors.NotInMesh
  const mesh: ValidatorStats = s.meshValidation
  const cached: number = s.cachedReferences + s.cachedMeshTokens + mesh.verifications
  const v: ValidatorStats = validator.stats()
  const expired: number = (v.failures.JwtExpired ?? 0) + v.cacheHits + v.jwksFetches + v.jwksFetchFailures + v.cachedTokens
  const m: TokenManagerStats = manager.stats()
  const renewals: number = m.renewals + m.renewalFailures
  const sources: MetricSources = { gateway: resolver, users: validator, token: manager }
  const text: string = prometheusText(sources) + prometheusText({ users: validator })
  const type: string = PROMETHEUS_CONTENT_TYPE
  void [current, notInMesh, cached, expired, renewals, text, type]
}
void operations

// Live configuration.
import { Watcher } from '@runbeam/sdk'
import type { WatchEvent } from '@runbeam/sdk'

function live(resolver: Resolver): void {
  const watcher: Watcher = resolver.watch((event: WatchEvent) => {
    const kind: 'applied' | 'failed' | 'skipped' | 'poll_failed' = event.kind
    const what: string = `${event.provider} ${event.changeId} ${event.changeType} ${event.action} ${event.message}`
    const meshes: string[] = event.meshes
    const dropped: number = event.referencesDropped + event.meshTokensDropped
    const code: string | undefined = event.error?.code
    const paths: string[] | undefined = event.error?.problems?.map((p) => p.path)
    const retry: number | null = event.retryInMs
    console.log(kind, what, meshes, dropped, code, paths, retry)
  })
  const providers: string[] = watcher.providers
  const stopped: boolean = watcher.isStopped
  watcher.stop()
  void [providers, stopped]
}
void live

// The HTTP edge: the native calls, and the middleware of the subpaths.
import { Outbound, joinPath, refusalFor } from '@runbeam/sdk'
import type { EdgeRequestState, EdgeStage, Refusal } from '@runbeam/sdk'
import * as expressEdge from '@runbeam/sdk/express'
import type { Middleware, RequestLike, ResponseLike } from '@runbeam/sdk/express'
import * as fastifyEdge from '@runbeam/sdk/fastify'
import type { FastifyInstance, FastifyReply } from 'fastify'

async function edge(validator: Validator, resolver: Resolver, header: string | undefined): Promise<void> {
  const claims: Claims = (validator.authenticateCached(header) ?? (await validator.authenticate(header, { signal: AbortSignal.timeout(1000) })))
  const mesh: Claims | null = resolver.verifyMeshRequestCached(header, 'imaging-integration', joinPath('https://x.example', '/a?b=1'))
  await resolver.verifyMeshRequest(null, 'imaging-integration')
  await resolver.verifyMeshRequest(header, 'imaging-integration', 'https://x.example/a', { signal: AbortSignal.timeout(1000) })
  const out: Outbound = resolver.outboundCached('runbeam.t.ingress.name.x', '/a') ?? (await resolver.outbound('runbeam.t.ingress.name.x', '/a'))
  const headers: Record<string, string> = out.headers
  const fields: string = out.url + out.authorization + out.baseUrl + out.mesh + out.reference
  const stale: boolean = out.isStale
  const expires: Date = out.tokenExpiresAt
  const stage: EdgeStage = 'outbound'
  const refusal: Refusal = refusalFor(new Error('x'), stage)
  const answer: string = `${refusal.status} ${refusal.kind} ${refusal.headers['retry-after']} ${refusal.body} ${refusal.contentType}`
  const state: EdgeRequestState = { claims, meshClaims: mesh }
  void [headers, fields, stale, expires, answer, state]
}
void edge

function middleware(validator: Validator, resolver: Resolver): void {
  const user: Middleware = expressEdge.authenticate({
    validator,
    publicPaths: ['/healthz'],
    skip: (req) => req.url === '/metrics',
    onError: (error, req, refusal) => console.log(error.code, req.originalUrl, refusal.status),
  })
  const guard: Middleware = expressEdge.meshGuard({ resolver, mesh: 'imaging-integration', publicUrl: 'https://x.example' })
  const req: RequestLike = { headers: { authorization: 'Bearer x' }, url: '/' }
  const res = {} as ResponseLike
  user(req, res, (error?: unknown) => void error)
  const sent: Refusal = expressEdge.refuse(res, new Error('x'), 'userToken')
  const claims: string | null | undefined = req.runbeam?.claims?.sub
  void [guard, sent, claims]
}
void middleware

async function plugins(app: FastifyInstance, validator: Validator, resolver: Resolver): Promise<void> {
  await app.register(fastifyEdge.authenticate, { validator, onError: (error, request) => request.log.info({ err: error }) })
  await app.register(fastifyEdge.meshGuard, { resolver, mesh: 'imaging-integration', publicUrl: null })
  app.get('/me', async (request, reply: FastifyReply) => {
    const sub: string | null | undefined = request.runbeam?.claims?.sub
    if (sub === undefined) return fastifyEdge.refuse(reply, new Error('x'))
    return { sub }
  })
}
void plugins
