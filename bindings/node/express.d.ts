/* @runbeam/sdk/express: connect-style middleware for Express (also connect and node:http).
 * Types only of what it uses of a request and a response, so that it needs no @types/express;
 * with @types/express installed, `req.runbeam` is declared on Express's `Request`. */

import type { EdgeRequestState, EdgeStage, Refusal, Resolver, RunbeamError, Validator } from './index'

/** What the middleware reads of a request (Express's `Request` and node's `IncomingMessage` are). */
export interface RequestLike {
  headers: { authorization?: string | undefined }
  url?: string | undefined
  /** Express: the path as requested (with its query), whatever router the middleware is in. */
  originalUrl?: string | undefined
  runbeam?: EdgeRequestState | undefined
}

/** What the middleware writes to a response (Express's `Response` and node's `ServerResponse` are). */
export interface ResponseLike {
  statusCode: number
  readonly headersSent: boolean
  setHeader(name: string, value: string | number): unknown
  end(body: string): unknown
  destroy(): unknown
}

/** A connect-style middleware. */
export type Middleware<Req extends RequestLike = RequestLike> = (
  req: Req,
  res: ResponseLike,
  next: (error?: unknown) => void,
) => void

/** What `authenticate` and `meshGuard` share. */
export interface EdgeMiddlewareOptions<Req extends RequestLike = RequestLike> {
  /**
   * Paths let through without a token (e.g. `['/healthz']`): exact, as requested
   * (`req.originalUrl`, the query ignored).
   */
  publicPaths?: ReadonlyArray<string>
  /** Requests let through without a token: `true` skips the check. */
  skip?: (req: Req) => boolean
  /**
   * Called with the SDK's error for every request the middleware refuses, before the refusal
   * is sent (the body never carries the error: log it here). What it throws goes to `next`.
   */
  onError?: (error: RunbeamError, req: Req, refusal: Refusal) => void
}

/** Options of `authenticate`. */
export interface AuthenticateOptions<Req extends RequestLike = RequestLike> extends EdgeMiddlewareOptions<Req> {
  /** Validates the user JWTs (trusted issuers, audiences, …). */
  validator: Validator
}

/** Options of `meshGuard`. */
export interface MeshGuardOptions<Req extends RequestLike = RequestLike> extends EdgeMiddlewareOptions<Req> {
  /** Verifies the mesh tokens with the keys of the mesh's provider. */
  resolver: Resolver
  /** The mesh (its configuration name or Cloud id) the tokens must be issued for. */
  mesh: string
  /**
   * The public URL of this ingress, as registered in Runbeam Cloud: the URL served is
   * `joinPath(publicUrl, req.originalUrl)` and must lie under the token's `dest_url`. Never
   * taken from the Host header. Without it, only the signature, issuer, audience, `mesh_id` and
   * expiry are checked: give it whenever the gateway serves more than one resource.
   */
  publicUrl?: string | null
}

/**
 * Middleware validating the user's JWT (`Authorization: Bearer`) of each request: its claims
 * on `req.runbeam.claims`, else runbeam-core's refusal (401 with `WWW-Authenticate: Bearer
 * error="invalid_token"` for a missing, malformed, expired or untrusted token; 503 with
 * `Retry-After` when the keys cannot be fetched).
 *
 * ```js
 * app.use(authenticate({ validator, publicPaths: ['/healthz'] }))
 * app.get('/me', (req, res) => res.json({ sub: req.runbeam.claims.sub }))
 * ```
 *
 * @throws `RUNBEAM_INVALID_ARGUMENT` for options that cannot be used.
 */
export declare function authenticate<Req extends RequestLike = RequestLike>(options: AuthenticateOptions<Req>): Middleware<Req>

/**
 * Middleware verifying the mesh token a partner gateway sent with each request to an ingress
 * route: its claims on `req.runbeam.meshClaims`, else runbeam-core's refusal (401 for a
 * missing or bad token, a token for another mesh or another destination).
 *
 * ```js
 * app.use('/studies', meshGuard({ resolver, mesh: 'imaging-integration', publicUrl: 'https://dicom.example.com' }))
 * ```
 *
 * @throws `RUNBEAM_INVALID_ARGUMENT` for options that cannot be used.
 */
export declare function meshGuard<Req extends RequestLike = RequestLike>(options: MeshGuardOptions<Req>): Middleware<Req>

/**
 * Answers the request with runbeam-core's refusal of `error` (an error of the SDK; anything
 * else is answered as `Internal`, 503) raised at `stage` (default `'outbound'`); returns it.
 *
 * ```js
 * try { out = await resolver.outbound(ref, req.originalUrl) } catch (error) { return refuse(res, error) }
 * ```
 */
export declare function refuse(res: ResponseLike, error: unknown, stage?: EdgeStage): Refusal

declare global {
  // Merged into Express's `Request` when @types/express is installed.
  namespace Express {
    interface Request {
      /** Set by `@runbeam/sdk/express` on the requests it lets through. */
      runbeam?: EdgeRequestState
    }
  }
}
