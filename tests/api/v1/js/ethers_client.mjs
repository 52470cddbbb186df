// An ethers v6 client of the scf-ledger API, as a browser dapp would be: it takes the API's JSON as it is.
//
//   node ethers_client.mjs CONFIG.json
//
// CONFIG: {api, rpc, chainId, now, keys: {core, tier1, tier2}, contracts and abis: {TradeEscrow, Receivables}}.
// It signs in three parties, then with amounts, nonces and deadlines above 2^53:
//   * an order: typed data from the API, signed by buyer and supplier with Wallet.signTypedData, the prepared
//     createOrder signed with wallet.signTransaction(transaction) as served, submitted, followed to "mined";
//   * a receivable: issue (the debtor signs the acknowledgement), then a split into two pieces;
// and checks each object on chain (its own JSON-RPC reads) holds the exact big value. The only change made to
// anything the API serves: `EIP712Domain` is left out of `types`, because ethers derives the domain type from the
// domain itself and refuses it among the types (signTypedData(domain, types, message)).
// Prints one JSON line: what it created, for the Python test to check again.
import { readFileSync } from "node:fs";
import { Contract, JsonRpcProvider, Network, Transaction, TypedDataEncoder, Wallet, id } from "ethers";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const DAY = 86_400n;
const now = BigInt(config.now);
const provider = new JsonRpcProvider(config.rpc, Network.from(config.chainId), { staticNetwork: true });
const wallets = Object.fromEntries(Object.entries(config.keys).map(([name, key]) => [name, new Wallet(key)]));
const escrow = new Contract(config.contracts.TradeEscrow, config.abis.TradeEscrow, provider);
const receivables = new Contract(config.contracts.Receivables, config.abis.Receivables, provider);

function check(condition, what, detail) {
  if (!condition) {
    throw new Error(`${what}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  }
}

// Every number in every answer must be one JavaScript holds exactly: a bigger one was rounded by JSON.parse.
function unsafeNumbers(value, where = "") {
  if (typeof value === "number") {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? [`${where}=${value}`] : [];
  }
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => unsafeNumbers(item, `${where}[${index}]`));
  }
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([key, item]) => unsafeNumbers(item, `${where}.${key}`));
  }
  return [];
}

async function request(method, path, { token, body, expect = 200 } = {}) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const answer = await fetch(config.api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await answer.text();
  check(answer.status === expect, `${method} ${path} answered ${answer.status}, not ${expect}`, text);
  const json = JSON.parse(text);
  const unsafe = unsafeNumbers(json);
  check(unsafe.length === 0, `${method} ${path} has numbers JavaScript cannot hold exactly`, unsafe);
  return json;
}

async function signIn(wallet) {
  const challenge = await request("POST", "/v1/auth/challenge", { body: { address: wallet.address } });
  const signature = await wallet.signMessage(challenge.message);
  const token = await request("POST", "/v1/auth/token", { body: { nonce: challenge.nonce, signature } });
  return token.accessToken;
}

// The typed data as ethers signs it: the served document less the EIP712Domain type (ethers' own rule).
async function signTyped(wallet, served) {
  const { EIP712Domain, ...types } = served.typedData.types;
  check(Array.isArray(EIP712Domain), "the typed data declares its domain type", served.typedData.types);
  const { domain, message } = served.typedData;
  check(TypedDataEncoder.hash(domain, types, message) === served.digest, "ethers computes the served digest");
  return wallet.signTypedData(domain, types, message);
}

// The prepared transaction handed to ethers as served, signed, submitted and followed until mined and indexed.
async function transact(wallet, token, prepared) {
  const served = prepared.transaction;
  const raw = await wallet.signTransaction(served);
  const signed = Transaction.from(raw);
  check(signed.from === wallet.address, "signed by the party", signed.from);
  check(signed.gasLimit === BigInt(served.gasLimit) && signed.gasLimit > 21_000n, "the served gasLimit is signed", {
    signed: signed.gasLimit.toString(),
    served: served.gasLimit,
  });
  check(signed.maxFeePerGas === BigInt(served.maxFeePerGas) && signed.nonce === Number(served.nonce), "fees, nonce");
  check(signed.chainId === BigInt(config.chainId) && signed.type === 2, "an EIP-1559 transaction of this chain");
  const submitted = await request("POST", "/v1/submissions", { token, body: { rawTransaction: raw }, expect: 202 });
  check(submitted.txHash === signed.hash, "the API broadcast what ethers signed", submitted);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await request("GET", submitted.statusUrl, { token });
    if (status.status !== "pending" && status.indexed) {
      check(status.status === "mined", "the transaction is mined", status);
      return status;
    }
    check(Date.now() < deadline, "the submission is mined and indexed within a minute", status);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const tokens = {};
for (const [name, wallet] of Object.entries(wallets)) tokens[name] = await signIn(wallet);
const { core, tier1, tier2 } = wallets;

// -- an order of 2^53 + 1 token units: JSON.parse would make it 2^53 ------------------------------------
const amount = 2n ** 53n + 1n;
const orderNonce = 2n ** 64n + 1n;
const terms = {
  buyer: core.address,
  supplier: tier1.address,
  amount: amount.toString(),
  shipBy: (now + 7n * DAY).toString(),
  deliverBy: (now + 14n * DAY).toString(),
  inspectionRequired: false,
  termsHash: id("terms of JS-PO-1"),
  poReference: "JS-PO-1",
  nonce: orderNonce.toString(),
  deadline: (now + DAY).toString(),
};
const orderTyped = await request("POST", "/v1/orders/typed-data", { token: tokens.core, body: terms });
check(BigInt(orderTyped.typedData.message.amount) === amount, "the typed data says the exact amount");
check(BigInt(orderTyped.typedData.message.nonce) === orderNonce, "the typed data says the exact nonce");
const order = {
  terms,
  buyerSignature: await signTyped(core, orderTyped),
  supplierSignature: await signTyped(tier1, orderTyped),
};
const created = await transact(core, tokens.core, await request("POST", "/v1/orders", { token: tokens.core, body: order }));
const orderId = created.created.orderId;
check(typeof orderId === "string", "the status names the order", created);
const onChainOrder = await escrow.orderOf(BigInt(orderId));
check(onChainOrder.terms.amount === amount, "the order's amount on chain is exact", onChainOrder.terms.amount.toString());
check(onChainOrder.terms.nonce === orderNonce, "the order's nonce on chain is exact");
const orderRead = await request("GET", `/v1/orders/${orderId}`, { token: tokens.tier1 });
check(orderRead.amount === amount.toString() && orderRead.orderId === orderId, "the API reads the same", orderRead);

// -- a receivable of 2^60 + 7, issued by its debtor and split by its creditor ----------------------------
const face = 2n ** 60n + 7n;
const issueTerms = {
  debtor: core.address,
  creditor: tier1.address,
  faceValue: face.toString(),
  maturity: (now + 60n * DAY).toString(),
  invoiceHash: id("invoice JS-INV-1"),
  invoiceNumber: "JS-INV-1",
  invoiceDate: "2026-01-15",
  orderId: "0",
  nonce: (2n ** 128n + 5n).toString(),
  deadline: (now + DAY).toString(),
};
const issueTyped = await request("POST", "/v1/receivables/typed-data", { token: tokens.core, body: issueTerms });
check(BigInt(issueTyped.typedData.message.faceValue) === face, "the typed data says the exact face value");
const issue = { terms: issueTerms, debtorSignature: await signTyped(core, issueTyped) };
const issued = await transact(tier1, tokens.tier1, await request("POST", "/v1/receivables", { token: tokens.tier1, body: issue }));
const rootId = issued.created.rootId;
check(issued.created.pieceId === rootId, "a root is its own first piece", issued.created);
check((await receivables.rootOf(BigInt(rootId))).faceValue === face, "the face value on chain is exact");

const given = 2n ** 55n + 3n;
const children = [
  { amount: (face - given).toString(), holder: tier1.address, ref: id("kept") },
  { amount: given.toString(), holder: tier2.address, ref: id("JS-SUB-1") },
];
const split = await transact(
  tier1,
  tokens.tier1,
  await request("POST", `/v1/receivables/pieces/${rootId}/split`, { token: tokens.tier1, body: { children } }),
);
const pieceIds = split.created.pieceIds;
check(Array.isArray(pieceIds) && pieceIds.length === 2, "the status names both new pieces", split.created);
for (const [index, pieceId] of pieceIds.entries()) {
  const piece = await receivables.pieceOf(BigInt(pieceId));
  check(piece.amount.toString() === children[index].amount, `piece ${pieceId}'s amount on chain is exact`);
  check(piece.parentId === BigInt(rootId), `piece ${pieceId} is a child of the root`);
}
const givenRead = await request("GET", `/v1/receivables/pieces/${pieceIds[1]}`, { token: tokens.tier2 });
check(givenRead.amount === given.toString(), "tier2 reads its exact piece", givenRead);

console.log(JSON.stringify({ orderId, amount: amount.toString(), rootId, face: face.toString(), pieceIds }));
