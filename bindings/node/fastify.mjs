// ES module entry point of @runbeam/sdk/fastify: the same objects as the CommonJS entry (fastify.js).
import sdk from './fastify.js'

export const { authenticate, meshGuard, refuse } = sdk
export default sdk
