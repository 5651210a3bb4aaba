// Example Node gateway (mirrors examples/c/authorize.c): authorize with Runbeam Cloud (here
// runbeam-devcloud) using a user's Sanctum token, then act as the gateway with its machine token:
// resolve the partner's DICOMweb ingress, ask for a mesh token, and list what the user's team
// can see. Secrets are never printed.
//
//   node examples/node/authorize.mjs API_URL USER_TOKEN GATEWAY_CODE
import { Client, Reference } from '../../bindings/node/index.mjs'

/** @param {string[]} argv */
async function main(argv) {
  const [apiUrl, userToken, gatewayCode] = argv
  if (!gatewayCode) {
    console.error('usage: node examples/node/authorize.mjs API_URL USER_TOKEN GATEWAY_CODE')
    return 2
  }
  console.log(`[Node] authorize gateway '${gatewayCode}' at ${apiUrl}`)
  const user = new Client(apiUrl, { token: userToken })
  try {
    const granted = await user.authorize(gatewayCode)
    console.log(`  authorized: machine token received (${granted.expose().length} chars, not shown), ` +
      `expires ${granted.expiresAt.toISOString()}`)
    const gateway = user.withToken(granted.expose())

    const dicom = Reference.parse('runbeam.radiology-dept.ingress.name.dicomweb')
    const resolved = await gateway.resolve(dicom)
    console.log(`  resolve ${dicom}:\n    ${JSON.stringify(resolved)}`)

    const mesh = await gateway.meshToken('imaging-integration', 'https://dicom.radiology.example.com/studies')
    console.log(`  mesh token for ${mesh.meshId ?? 'imaging-integration'}: issued (not shown), expires ${mesh.expiresAt.toISOString()}`)

    const names = []
    for await (const ingress of user.listAll('ingresses', { perPage: 2 })) names.push(ingress.name)
    console.log(`  ingresses visible to the team: ${names.join(', ') || '(none)'}`)
    return 0
  } catch (e) {
    console.error(`  failed: ${e.code}: ${e.message} (HTTP ${e.status ?? '-'})`)
    return 1
  }
}

process.exitCode = await main(process.argv.slice(2))
