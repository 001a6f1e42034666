// Drives jsforce, unmodified, against a Salesforce endpoint: `node jsforce_ops.mjs <op>` with
// the settings as JSON on stdin ({loginUrl, clientId, clientSecret, refreshToken, ...}); prints
// the operation's result as JSON on stdout. The CA bundle comes from NODE_EXTRA_CA_CERTS.
import jsforce from 'jsforce';

const VERSION = '62.0';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

function oauth2(s) {
  return new jsforce.OAuth2({ loginUrl: s.loginUrl, clientId: s.clientId, clientSecret: s.clientSecret });
}

// A connection logged in through the refresh-token flow.
async function connect(s) {
  const res = await oauth2(s).refreshToken(s.refreshToken);
  const conn = new jsforce.Connection({
    oauth2: oauth2(s), instanceUrl: res.instance_url, accessToken: res.access_token,
    refreshToken: s.refreshToken, version: VERSION,
  });
  return { conn, res };
}

async function collect(stream) {
  const records = [];
  await new Promise((resolve, reject) => {
    stream.on('record', (r) => records.push(r));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return records;
}

const ops = {
  // OAuth: the refresh-token grant, and a connection that renews an expired session by itself
  async refresh(s) {
    const res = await oauth2(s).refreshToken(s.refreshToken);
    const conn = new jsforce.Connection({
      oauth2: oauth2(s), instanceUrl: res.instance_url, accessToken: 'expired-session-token',
      refreshToken: s.refreshToken, version: VERSION,
    });
    let renewed = 0;
    conn.on('refresh', () => { renewed += 1; });
    const count = await conn.query('SELECT COUNT() FROM Account');
    return { token: res, renewed, totalSize: count.totalSize };
  },
  async identity(s) {
    const { conn, res } = await connect(s);
    return { tokenId: res.id, identity: await conn.identity() };
  },
  async versions(s) {
    const { conn } = await connect(s);
    return {
      versions: await conn.request('/services/data/'),
      resources: await conn.request(`/services/data/v${VERSION}`),
      limits: await conn.limits(),
    };
  },
  async describe(s) {
    const { conn } = await connect(s);
    const global = await conn.describeGlobal();
    const account = await conn.sobject('Account').describe();
    return { global, account };
  },
  async retrieve(s) {
    const { conn } = await connect(s);
    const page = await conn.query(`SELECT Id FROM Account ORDER BY Id LIMIT ${s.count || 3}`);
    const ids = page.records.map((r) => r.Id);
    const many = await conn.sobject('Account').retrieve(ids);
    const some = await conn.retrieve('Account', ids, { fields: ['Name', 'BillingCity'] });
    return { ids, many, some };
  },
  async explain(s) {
    const { conn } = await connect(s);
    return await conn.query(s.soql).explain();
  },
  async bulkLoad(s) {
    const { conn } = await connect(s);
    conn.bulk.pollInterval = 200;
    conn.bulk.pollTimeout = 60000;
    const inserted = await conn.bulk.load('Account', 'insert', s.records);
    const ids = inserted.filter((r) => r.success).map((r) => r.id);
    const updated = await conn.bulk.load('Account', 'update', ids.map((Id) => ({ Id, Phone: '+1 555 0100' })));
    const job = conn.bulk.createJob('Account', 'insert');
    await job.open();
    const info = await job.info();
    await job.close();
    return { inserted, updated, jobInfo: info };
  },
  async bulkQuery(s) {
    const { conn } = await connect(s);
    conn.bulk.pollInterval = 200;
    conn.bulk.pollTimeout = 60000;
    const stream = await conn.bulk.query(s.soql);
    return { records: await collect(stream) };
  },
  async bulkQueryError(s) {
    const { conn } = await connect(s);
    conn.bulk.pollInterval = 200;
    try {
      await collect(await conn.bulk.query(s.soql));
      return { error: null };
    } catch (err) {
      return { error: { name: err.name, message: err.message } };
    }
  },
  async bulk2Query(s) {
    const { conn } = await connect(s);
    conn.bulk2.pollInterval = 200;
    conn.bulk2.pollTimeout = 60000;
    const records = await conn.bulk2.query(s.soql, { maxRecords: s.maxRecords });
    const out = [];
    for await (const r of records) out.push(r);
    return { records: out };
  },
  async bulk2QueryError(s) {
    const { conn } = await connect(s);
    try {
      const records = await conn.bulk2.query(s.soql);
      for await (const r of records) void r;
      return { error: null };
    } catch (err) {
      return { error: { name: err.name, errorCode: err.errorCode, message: err.message } };
    }
  },
  async columnsQuery(s) {
    const { conn } = await connect(s);
    return await conn.request(`/services/data/v${VERSION}/query?q=${encodeURIComponent(s.soql)}&columns=true`);
  },
};

const op = process.argv[2];
if (!ops[op]) {
  console.error(`unknown operation ${op}; one of ${Object.keys(ops).join(', ')}`);
  process.exit(2);
}
try {
  const result = await ops[op](await readStdin());
  process.stdout.write(JSON.stringify(result));
} catch (err) {
  process.stdout.write(JSON.stringify({ failed: { name: err.name, errorCode: err.errorCode, message: err.message, stack: err.stack } }));
  process.exit(1);
}
