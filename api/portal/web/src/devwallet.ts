// The devnet's dev wallet: the demo parties' keys (served by `scf serve --devnet --dev-wallet FILE` only) behind the
// same EIP-1193 calls a browser wallet answers, so the pages' signing path is the one a MetaMask user takes. It
// signs in the page with ethers and broadcasts to the devnet's node itself, as a wallet would. Never for real keys.

import { Wallet, JsonRpcProvider, Transaction, TypedDataEncoder, getBytes, type TypedDataField } from "ethers";
import type { Eip1193 } from "./wallet";
import type { DevParty } from "./types";

export class DevWallet implements Eip1193 {
  private readonly wallet: Wallet;
  private readonly node: JsonRpcProvider;

  constructor(
    readonly party: DevParty,
    rpcUrl: string,
    private readonly chainId: number,
  ) {
    this.node = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, batchMaxCount: 1 });
    this.wallet = new Wallet(party.key);
  }

  async request({ method, params }: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown> {
    const args = (Array.isArray(params) ? params : []) as unknown[];
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [this.wallet.address];
      case "eth_chainId":
        return "0x" + this.chainId.toString(16);
      case "personal_sign":
        this.mine(args[1]);
        return this.wallet.signMessage(getBytes(String(args[0])));
      case "eth_signTypedData_v4": {
        this.mine(args[0]);
        const doc = JSON.parse(String(args[1])) as {
          domain: Record<string, unknown>;
          types: Record<string, TypedDataField[]>;
          message: Record<string, unknown>;
        };
        const { EIP712Domain: _domain, ...types } = doc.types;
        // ethers checks the primary type is the one root of the types: the document names it, so keep only its tree.
        TypedDataEncoder.from(types);
        return this.wallet.signTypedData(doc.domain, types, doc.message);
      }
      case "eth_sendTransaction": {
        const tx = args[0] as Record<string, string>;
        this.mine(tx.from);
        const signed = await this.wallet.signTransaction(
          Transaction.from({
            type: 2,
            chainId: BigInt(tx.chainId ?? this.chainId),
            to: tx.to,
            data: tx.data,
            value: BigInt(tx.value ?? 0),
            nonce: Number(BigInt(tx.nonce)),
            gasLimit: BigInt(tx.gas),
            maxFeePerGas: BigInt(tx.maxFeePerGas),
            maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas),
          }),
        );
        return this.node.send("eth_sendRawTransaction", [signed]);
      }
      default:
        throw Object.assign(new Error(`the dev wallet does not support ${method}`), { code: 4200 });
    }
  }

  private mine(address: unknown): void {
    if (String(address).toLowerCase() !== this.wallet.address.toLowerCase()) {
      throw Object.assign(new Error(`the dev wallet holds ${this.wallet.address}, not ${String(address)}`), {
        code: 4100,
      });
    }
  }
}
