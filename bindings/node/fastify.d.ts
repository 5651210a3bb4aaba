/* @runbeam/sdk/fastify: Fastify plugins (Fastify 5; the types are Fastify's own). */

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'

import type { EdgeRequestState, EdgeStage, Refusal, Resolver, RunbeamError, Validator } from './index'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `@runbeam/sdk/fastify` on the requests it lets through (null on the others). */
    runbeam: EdgeRequestState | null
  }
}

/** What `authenticate` and `meshGuard` share. */
export interface EdgePluginOptions {
  /**
   * Paths let through without a token (e.g. `['/healthz']`): exact, as requested
   * (`request.originalUrl`, the query ignored).
   */
  publicPaths?: ReadonlyArray<string>
  /** Requests let through without a token: `true` skips the check. */
  skip?: (request: FastifyRequest) => boolean
  /**
   * Called with the SDK's error for every request the plugin refuses, before the refusal is
   * sent (the body never carries the error: log it here, e.g. `request.log.info({ err: error })`).
   * What it throws goes to Fastify's error handling.
   */
  onError?: (error: RunbeamError, request: FastifyRequest, refusal: Refusal) => void
}

/** Options of `authenticate`. */
export interface AuthenticateOptions extends EdgePluginOptions {
  /** Validates the user JWTs (trusted issuers, audiences, …). */
  validator: Validator
}

/** Options of `meshGuard`. */
export interface MeshGuardOptions extends EdgePluginOptions {
  /** Verifies the mesh tokens with the keys of the mesh's provider. */
  resolver: Resolver
  /** The mesh (its configuration name or Cloud id) the tokens must be issued for. */
  mesh: string
  /**
   * The public URL of this ingress, as registered in Runbeam Cloud: the URL served is
   * `joinPath(publicUrl, request.originalUrl)` and must lie under the token's `dest_url`. Never
   * taken from the Host header. Without it, only the signature, issuer, audience, `mesh_id` and
   * expiry are checked: give it whenever the gateway serves more than one resource.
   */
  publicUrl?: string | null
}

/**
 * Plugin (an `onRequest` hook for the routes of the scope it is registered in) validating the
 * user's JWT (`Authorization: Bearer`) of each request: its claims on
 * `request.runbeam.claims`, else runbeam-core's refusal (401 with `WWW-Authenticate: Bearer
 * error="invalid_token"` for a missing, malformed, expired or untrusted token; 503 with
 * `Retry-After` when the keys cannot be fetched).
 *
 * ```js
 * await app.register(authenticate, { validator, publicPaths: ['/healthz'] })
 * app.get('/me', async (request) => ({ sub: request.runbeam.claims.sub }))
 * ```
 */
export declare const authenticate: FastifyPluginCallback<AuthenticateOptions>

/**
 * Plugin verifying the mesh token a partner gateway sent with each request to the routes of the
 * scope it is registered in: its claims on `request.runbeam.meshClaims`, else runbeam-core's
 * refusal (401 for a missing or bad token, a token for another mesh or another destination).
 */
export declare const meshGuard: FastifyPluginCallback<MeshGuardOptions>

/**
 * Sends runbeam-core's refusal of `error` (an error of the SDK; anything else is answered as
 * `Internal`, 503) raised at `stage` (default `'outbound'`); returns the reply.
 *
 * ```js
 * try { out = await resolver.outbound(ref, request.url) } catch (error) { return refuse(reply, error) }
 * ```
 */
export declare function refuse(reply: FastifyReply, error: unknown, stage?: EdgeStage): FastifyReply
