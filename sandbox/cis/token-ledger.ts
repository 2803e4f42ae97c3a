import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** Token statuses in the vendor's spelling (cis-api.md §2). */
export type VendorTokenStatus = 'Activated' | 'Redeemed' | 'ReturnAccepted';

/** The characters Microsoft uses in product keys (no vowels, no look-alikes such as 0/O, 1/I, 5/S). */
export const PRODUCT_KEY_ALPHABET = 'BCDFGHJKMPQRTVWXY2346789';

/** Where activation links point in Microsoft's test environment. */
export const ACTIVATION_HOST = 'https://setup.officeppe.com/';

/** A license token as the sandbox keeps it. `token` (the product key) and `activationLink` are secrets. */
export interface SandboxToken {
  channelId: string;
  transactionId: string;
  clientTransactionId: string;
  offerId: string;
  token: string;
  activationLink: string;
  tokenStatus: VendorTokenStatus;
  createdAt: Date;
  redeemedAt?: Date;
  /** The offer's `isReturnable` when the token was bought: returns are judged by the terms of the sale. */
  returnable: boolean;
  /** The request body's identity, to tell a replay from a conflicting reuse of the transaction id. */
  fingerprint: string;
}

/** The answer of a successful return, as replayed for the same return transaction id. */
export interface VendorReturnAnswer {
  returnId: string;
  returnStatus: 'Successful';
  tokenStatus: 'ReturnAccepted';
}

/** A return as the sandbox keeps it. */
export interface SandboxReturn {
  channelId: string;
  clientTransactionId: string;
  tokenClientTransactionId: string;
  fingerprint: string;
  answer: VendorReturnAnswer;
}

/**
 * The tokens and returns the sandbox has created, per channel and client transaction id (the vendor's
 * idempotency key), in memory like the rest of the sandbox. Product keys are unique across the ledger.
 */
export class TokenLedger {
  private readonly tokens = new Map<string, SandboxToken>();
  private readonly returns = new Map<string, SandboxReturn>();
  private readonly issuedKeys = new Set<string>();

  token(channelId: string, clientTransactionId: string): SandboxToken | undefined {
    return this.tokens.get(ledgerKey(channelId, clientTransactionId));
  }

  /** Every channel's token with this transaction id (the redeem control names no channel). */
  tokensWithId(clientTransactionId: string): SandboxToken[] {
    return [...this.tokens.values()].filter((t) => t.clientTransactionId === clientTransactionId);
  }

  createToken(input: {
    channelId: string;
    clientTransactionId: string;
    offerId: string;
    returnable: boolean;
    fingerprint: string;
    now: Date;
  }): SandboxToken {
    const token: SandboxToken = {
      channelId: input.channelId,
      transactionId: randomUUID(),
      clientTransactionId: input.clientTransactionId,
      offerId: input.offerId,
      token: this.newProductKey(),
      activationLink: activationLinkFor(input.clientTransactionId),
      tokenStatus: 'Activated',
      createdAt: input.now,
      returnable: input.returnable,
      fingerprint: input.fingerprint,
    };
    this.tokens.set(ledgerKey(input.channelId, input.clientTransactionId), token);
    return token;
  }

  return(channelId: string, clientTransactionId: string): SandboxReturn | undefined {
    return this.returns.get(ledgerKey(channelId, clientTransactionId));
  }

  /** Records a successful return and marks its token ReturnAccepted. */
  acceptReturn(input: {
    token: SandboxToken;
    clientTransactionId: string;
    fingerprint: string;
  }): SandboxReturn {
    input.token.tokenStatus = 'ReturnAccepted';
    const recorded: SandboxReturn = {
      channelId: input.token.channelId,
      clientTransactionId: input.clientTransactionId,
      tokenClientTransactionId: input.token.clientTransactionId,
      fingerprint: input.fingerprint,
      answer: { returnId: randomUUID(), returnStatus: 'Successful', tokenStatus: 'ReturnAccepted' },
    };
    this.returns.set(ledgerKey(input.token.channelId, input.clientTransactionId), recorded);
    return recorded;
  }

  clear(): void {
    this.tokens.clear();
    this.returns.clear();
    this.issuedKeys.clear();
  }

  private newProductKey(): string {
    for (;;) {
      const key = randomProductKey();
      if (!this.issuedKeys.has(key)) {
        this.issuedKeys.add(key);
        return key;
      }
    }
  }
}

/** A 5x5 key (`XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`) from {@link PRODUCT_KEY_ALPHABET}. */
export function randomProductKey(): string {
  const groups: string[] = [];
  for (let g = 0; g < 5; g++) {
    let group = '';
    for (let c = 0; c < 5; c++) group += PRODUCT_KEY_ALPHABET[randomInt(PRODUCT_KEY_ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

/** The token's wire shape (cis-api.md §2). */
export function tokenToWire(token: SandboxToken): Record<string, string> {
  return {
    transactionId: token.transactionId,
    clientTransactionId: token.clientTransactionId,
    offerId: token.offerId,
    token: token.token,
    activationLink: token.activationLink,
    tokenStatus: token.tokenStatus,
    createdAt: token.createdAt.toISOString(),
  };
}

/** Like Microsoft's links: an opaque activation token, and the client transaction id back as `ctid`. */
function activationLinkFor(clientTransactionId: string): string {
  const url = new URL(ACTIVATION_HOST);
  url.searchParams.set('token', randomBytes(18).toString('base64url'));
  url.searchParams.set('ctid', clientTransactionId);
  return url.toString();
}

function ledgerKey(channelId: string, clientTransactionId: string): string {
  return `${channelId}\u0000${clientTransactionId}`;
}
