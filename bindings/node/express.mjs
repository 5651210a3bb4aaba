// ES module entry point of @runbeam/sdk/express: the same objects as the CommonJS entry (express.js).
import sdk from './express.js'

export const { authenticate, meshGuard, refuse } = sdk
export default sdk
