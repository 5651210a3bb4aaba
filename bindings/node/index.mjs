// ES module entry point of @runbeam/sdk: the same objects as the CommonJS entry (index.js).
import sdk from './index.js'

export const {
  Reference,
  Client,
  MeshConfig,
  Validator,
  parseBearer,
  errorCodes,
  version,
  openTokenStore,
  FileTokenStore,
  KeyringTokenStore,
  MemoryTokenStore,
  MachineToken,
  UserToken,
  TokenManager,
  Resolver,
  IssuedMeshToken,
  AuthorizeResult,
  MeshTokenResult,
  Watcher,
  Outbound,
  refusalFor,
  joinPath,
  setLogger,
  setLogLevel,
  logLevel,
  prometheusText,
  PROMETHEUS_CONTENT_TYPE,
} = sdk
export default sdk
