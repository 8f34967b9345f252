// send.cjs: sends HL7 v2 messages with node-hl7-client (a third-party MLLP
// client) to the server on 127.0.0.1:<port>, one after the other, each
// after the previous one was answered, and prints one JSON line per
// acknowledgement received: {"code", "control", "err3", "err2"}.
//
// Usage: node send.cjs <port> <file>, where <file> holds the messages,
// separated by a line holding only "----"; a text starting with BHS is sent
// as a batch. Run by TestInteropNodeHL7Client (lab/hl7/interop_test.go).
"use strict";
const fs = require("fs");
const { Client, Message, Batch } = require("node-hl7-client");

const port = Number(process.argv[2]);
const texts = fs.readFileSync(process.argv[3], "utf8").split("\n----\n").map((t) => t.trim().replace(/\n/g, "\r"));

const client = new Client({ host: "127.0.0.1" });
let expect = 0;
let next = null;
const field = (m, path) => {
  try {
    return m.get(path).toString();
  } catch (e) {
    return "";
  }
};
const conn = client.createConnection({ port, waitAck: true }, async (res) => {
  const m = res.getMessage();
  console.log(JSON.stringify({
    code: field(m, "MSA.1"), control: field(m, "MSA.2"),
    err3: field(m, "ERR.3.1"),
    err2: [field(m, "ERR.2.1"), field(m, "ERR.2.2"), field(m, "ERR.2.3")].join("^").replace(/\^+$/, ""),
  }));
  expect--;
  if (expect <= 0 && next) next();
});
conn.on("data.error", (e) => { console.error("data.error", e && e.message); process.exit(3); });

async function main() {
  for (const t of texts) {
    const isBatch = t.startsWith("BHS");
    const msg = isBatch ? new Batch({ text: t }) : new Message({ text: t });
    expect = isBatch ? (t.match(/\rMSH/g) || []).length : 1;
    const done = new Promise((resolve) => { next = resolve; });
    await conn.sendMessage(msg);
    await done;
  }
  await conn.close();
  process.exit(0);
}
setTimeout(() => { console.error("timed out"); process.exit(2); }, 20000);
main().catch((e) => { console.error(e); process.exit(1); });
