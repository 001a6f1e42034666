// Runs requests through the `netsuite-rest` npm package, unmodified: its only settings are the
// account (realm), the TBA keys and base_url; Node trusts the sandbox CA via NODE_EXTRA_CA_CERTS.
// Usage: node netsuite_rest.js '<json>' where json = {client: {...options}, requests: [{path,
// method, body, heads}]}; prints [{status, data}] (errors included; error answers also carry
// their headers, which the package's own success value does not keep) as JSON.
const NetsuiteRest = require("netsuite-rest");

async function main() {
  const spec = JSON.parse(process.argv[2]);
  const client = new NetsuiteRest(spec.client);
  const answers = [];
  for (const request of spec.requests) {
    try {
      const response = await client.request(request);
      answers.push({ status: response.statusCode, data: response.data });
    } catch (error) {
      if (!error.response) throw error;
      const body = error.response.body;
      answers.push({
        status: error.response.statusCode,
        headers: error.response.headers,
        data: body ? JSON.parse(body) : null,
      });
    }
  }
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
