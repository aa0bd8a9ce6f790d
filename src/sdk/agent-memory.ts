/**
 * An agent's memory at rest (issue #14 §5): a directory per agent holding its persona and its conversation as a chain
 * of encrypted, content-addressed blocks, one per turn.
 *
 *     <root>/<name>/key.json        the key derivation: scrypt parameters and salt (or "keyfile"), and a key check
 *     <root>/<name>/head.bin        sealed { persona, turns, head }: the persona and the CID of the newest block
 *     <root>/<name>/blocks/<cid>    sealed { index, previous, turn }: one turn, naming the CID of the turn before
 *
 * Sealing is AES-256-GCM (`"VINAGT1\n"` ‖ 12-byte nonce ‖ ciphertext ‖ 16-byte tag) under a key derived from a
 * password (scrypt, a random salt per agent) or from a 32-byte key file (mode 0600), then HKDF-SHA256 with the agent's
 * name. The associated data binds the format version, the agent's name and the file's role (the head, or block `i`):
 * a file moved to another agent, or a block moved to another place in the chain, does not open.
 *
 * A block's name is the CID (raw, sha2-256; core/cid) of its sealed bytes, and each block names the one before it, so
 * the head pins the whole history: a changed, removed or reordered block is found when the chain is read. Blocks are
 * written once (never overwritten); the head is replaced atomically (written aside, then renamed), after its block.
 *
 * One writer at a time: {@link AgentMemoryStore.append} refuses (ConflictError) when the head changed on disk since
 * this store read it, so two processes speaking as one agent cannot fork its chain unnoticed.
 *
 * Warning: a copy of an older head.bin of the same agent (with its blocks) opens: rolling a memory back to an earlier
 * state is not detected. The key check tells a wrong password from a tampered file, and lets a password be tried
 * offline as the sealed files do.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
} from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { fsyncSync } from "node:fs";
import path from "node:path";
import { cidToString, rawCid } from "../core/cid";
import { ConflictError, InputError, IntegrityError, KeyError, NotFoundError } from "../core/errors";
import { encodeReceiptFile, parseReceiptFile, type ReceiptFile } from "../core/receipts";

/** The format version, bound in every file's associated data. */
export const MEMORY_VERSION = 1;
const MAGIC = Buffer.from("VINAGT1\n");
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Sampling settings a persona sends with every turn (OpenAI's names; the node's defaults when left out). */
export interface Sampling {
  temperature?: number;
  topP?: number;
  /** Most tokens of one answer. Default 128. */
  maxTokens?: number;
  seed?: number;
  stop?: string[];
}

/** Who an agent is. */
export interface Persona {
  /** 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit. */
  name: string;
  /** The system prompt sent first on every turn. */
  system: string;
  /** The model version, as the chat API names it: `"<modelId>@<version>"`. */
  model: string;
  sampling?: Sampling;
  /** The model's context window, in tokens: what the memory is truncated to fit (see sdk/agent `memoryWindow`). */
  contextTokens?: number;
}

/** One exchange: the message, the answer, and the receipt that was checked for it. */
export interface AgentTurn {
  user: string;
  assistant: string;
  finishReason: string;
  /** The receipt as received and checked (its hashes cover this turn's request and answer). */
  receipt: ReceiptFile;
  /** The operator whose enclave signed the receipt. */
  operator: string;
  /** The gateway's OpenAI base URL, and the relay it went through (private path). */
  gateway: string;
  relay?: string;
  promptTokens: number;
  completionTokens: number;
  /** From sending the turn's first attempt to the first token of the answer that was kept (a failover included). */
  ttftMs: number;
  totalMs: number;
  /** 1, or 2 when the first gateway failed and another served the turn. */
  attempts: number;
  /** ISO 8601, when the answer was received. */
  at: string;
}

/** How the memory's key is made: from a password, a key file, or raw key bytes (32). */
export type MemorySecret = { password: string } | { keyFile: string } | { key: Uint8Array };

/** scrypt cost: N (a power of two), r, p. Default N 2^15, r 8, p 1 (32 MiB, about 0.1 s). */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

interface KeyFileRecord {
  version: number;
  kdf: "scrypt" | "keyfile";
  salt: string;
  scrypt?: ScryptParams;
  /** HMAC-SHA256(key, "vin agent key check"), hex. */
  check: string;
}

interface HeadRecord {
  version: number;
  persona: Persona;
  turns: number;
  head: string | null;
}

interface BlockRecord {
  index: number;
  previous: string | null;
  turn: unknown;
}

/** A memory that does not open: a wrong password or key. */
export class MemoryKeyError extends KeyError {
  override readonly name = "MemoryKeyError";
}

/** A memory file was changed, removed or moved: `file` names it. */
export class MemoryIntegrityError extends IntegrityError {
  override readonly name = "MemoryIntegrityError";
}

/**
 * An agent's memory on disk: open it with {@link AgentMemoryStore.create} or {@link AgentMemoryStore.open}, append
 * turns with {@link AgentMemoryStore.append}.
 * @example
 * const store = await AgentMemoryStore.create(".vin/agents", persona, { password });
 * await store.append(turn);
 * const { persona, turns } = await (await AgentMemoryStore.open(".vin/agents", "ishmael", { password })).read();
 */
export class AgentMemoryStore {
  /** The head file's bytes as this store last read or wrote them: another writer's change is found by comparing. */
  private headBytes: Buffer | undefined;

  private constructor(
    readonly dir: string,
    private readonly key: Buffer,
    private state: HeadRecord,
  ) {}

  get persona(): Persona {
    return this.state.persona;
  }

  get turnCount(): number {
    return this.state.turns;
  }

  /**
   * Creates the memory of a new agent under `root`.
   * @throws InputError for a bad name; ConflictError when the agent exists (it is never overwritten).
   */
  static async create(
    root: string,
    persona: Persona,
    secret: MemorySecret,
    options: { scrypt?: ScryptParams } = {},
  ): Promise<AgentMemoryStore> {
    checkName(persona.name);
    const dir = path.join(root, persona.name);
    if (existsSync(path.join(dir, "key.json")))
      throw new ConflictError(`agent ${persona.name} exists in ${root}: it is never overwritten; pick another name`);
    mkdirSync(path.join(dir, "blocks"), { recursive: true, mode: 0o700 });
    const salt = randomBytes(16);
    const kdf = "password" in secret ? "scrypt" : "keyfile";
    const params = kdf === "scrypt" ? (options.scrypt ?? DEFAULT_SCRYPT) : undefined;
    const key = await deriveKey(secret, persona.name, salt, params);
    const record: KeyFileRecord = {
      version: MEMORY_VERSION,
      kdf,
      salt: salt.toString("hex"),
      ...(params === undefined ? {} : { scrypt: params }),
      check: keyCheck(key),
    };
    writeFileSync(path.join(dir, "key.json"), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    const store = new AgentMemoryStore(dir, key, { version: MEMORY_VERSION, persona, turns: 0, head: null });
    store.writeHead();
    return store;
  }

  /**
   * Opens an agent's memory: derives its key (checked) and reads its head.
   * @throws NotFoundError when there is no such agent; MemoryKeyError for a wrong password or key;
   * MemoryIntegrityError when the head was tampered with.
   */
  static async open(root: string, name: string, secret: MemorySecret): Promise<AgentMemoryStore> {
    checkName(name);
    const dir = path.join(root, name);
    const keyFile = path.join(dir, "key.json");
    if (!existsSync(keyFile))
      throw new NotFoundError(`no agent ${name} in ${root}: create it with \`vin agent create\``);
    const record = parseKeyRecord(readFileSync(keyFile, "utf8"), keyFile);
    if (("password" in secret ? "scrypt" : "keyfile") !== record.kdf)
      throw new MemoryKeyError(
        `agent ${name}'s memory is keyed by ${record.kdf === "scrypt" ? "a password" : "a key file"}: give that`,
      );
    const key = await deriveKey(secret, name, Buffer.from(record.salt, "hex"), record.scrypt);
    if (!timingSafeEqual(Buffer.from(keyCheck(key), "hex"), Buffer.from(record.check, "hex")))
      throw new MemoryKeyError(`wrong password or key for agent ${name}: its memory does not open`);
    const headFile = path.join(dir, "head.bin");
    const sealed = readExisting(headFile);
    const head = JSON.parse(open(key, sealed, aad(name, "head"), headFile).toString("utf8")) as HeadRecord;
    if (head.persona?.name !== name) throw new MemoryIntegrityError(`${headFile} is not agent ${name}'s head`);
    const store = new AgentMemoryStore(dir, key, head);
    store.headBytes = sealed;
    return store;
  }

  /**
   * Every turn, oldest first, each block's CID and chain link checked.
   * @throws MemoryIntegrityError naming the block that is missing, changed or out of place.
   */
  read(): AgentTurn[] {
    const turns: AgentTurn[] = [];
    let cid = this.state.head;
    for (let index = this.state.turns - 1; index >= 0; index -= 1) {
      if (cid === null)
        throw new MemoryIntegrityError(`the chain of agent ${this.persona.name} ends before turn ${index}`);
      const block = this.readBlock(cid, index);
      turns.push(parseTurn(block.turn));
      cid = block.previous;
    }
    if (cid !== null)
      throw new MemoryIntegrityError(`the chain of agent ${this.persona.name} is longer than its head says`);
    return turns.reverse();
  }

  /**
   * Seals `turn` as a new block naming the newest, then moves the head to it. Returns the block's CID.
   * @throws ConflictError when another process moved the head since this store read it (nothing is written).
   */
  append(turn: AgentTurn): string {
    const current = existsSync(path.join(this.dir, "head.bin"))
      ? readFileSync(path.join(this.dir, "head.bin"))
      : undefined;
    if (current === undefined || this.headBytes === undefined || !current.equals(this.headBytes))
      throw new ConflictError(
        `agent ${this.persona.name}'s memory was changed by another process since it was read: open it again`,
      );
    const index = this.state.turns;
    const record: BlockRecord = { index, previous: this.state.head, turn: JSON.parse(encodeTurn(turn)) as unknown };
    const sealed = seal(this.key, Buffer.from(JSON.stringify(record)), aad(this.persona.name, `block ${index}`));
    const cid = cidToString(rawCid(sealed));
    writeDurably(path.join(this.dir, "blocks", cid), sealed, "wx");
    this.state = { ...this.state, turns: index + 1, head: cid };
    this.writeHead();
    return cid;
  }

  /** The CID of the newest block (null before the first turn). */
  get head(): string | null {
    return this.state.head;
  }

  private readBlock(cid: string, index: number): BlockRecord {
    const file = path.join(this.dir, "blocks", cid);
    const bytes = readExisting(file);
    if (cidToString(rawCid(bytes)) !== cid)
      throw new MemoryIntegrityError(`block ${cid} (turn ${index}) was changed: its content is not its CID's`);
    const record = JSON.parse(
      open(this.key, bytes, aad(this.persona.name, `block ${index}`), file).toString(),
    ) as BlockRecord;
    if (record.index !== index) throw new MemoryIntegrityError(`block ${cid} is turn ${record.index}, not ${index}`);
    return record;
  }

  private writeHead(): void {
    const plain = Buffer.from(JSON.stringify(this.state));
    const file = path.join(this.dir, "head.bin");
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const sealed = seal(this.key, plain, aad(this.persona.name, "head"));
    writeDurably(temporary, sealed, "wx");
    renameSync(temporary, file);
    this.headBytes = sealed;
  }
}

/** Whether `root` holds an agent called `name`. */
export function agentExists(root: string, name: string): boolean {
  return existsSync(path.join(root, name, "key.json"));
}

/** A turn as JSON (the receipt as core/receipts writes a receipt file). */
export function encodeTurn(turn: AgentTurn): string {
  const { receipt, ...rest } = turn;
  return JSON.stringify({ ...rest, receipt: JSON.parse(encodeReceiptFile(receipt)) as unknown });
}

function parseTurn(value: unknown): AgentTurn {
  const record = value as AgentTurn & { receipt: unknown };
  return { ...record, receipt: parseReceiptFile(record.receipt) };
}

/** Reads a 32-byte key file (64 hex digits, or 32 raw bytes) that only its owner may read. @throws KeyError */
export function readMemoryKeyFile(file: string): Buffer {
  if (!existsSync(file)) throw new KeyError(`key file ${file} not found`);
  const mode = statSync(file).mode & 0o777;
  if (process.platform !== "win32" && (mode & 0o077) !== 0)
    throw new KeyError(`key file ${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it`);
  const bytes = readFileSync(file);
  const text = bytes.toString("utf8").trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text.replace(/^0x/, ""), "hex");
  if (bytes.length === 32) return bytes;
  throw new KeyError(`key file ${file} must hold 32 bytes (64 hex digits)`);
}

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new InputError(
      `agent name "${name}" must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
    );
}

async function deriveKey(
  secret: MemorySecret,
  name: string,
  salt: Buffer,
  params: ScryptParams | undefined,
): Promise<Buffer> {
  let master: Buffer;
  if ("password" in secret) {
    if (secret.password === "") throw new KeyError("the memory password is empty");
    const { N, r, p } = params ?? DEFAULT_SCRYPT;
    master = await new Promise<Buffer>((resolve, reject) =>
      scryptCallback(secret.password, salt, 32, { N, r, p, maxmem: 256 * N * r }, (error, key) =>
        error === null ? resolve(key) : reject(new KeyError("scrypt failed", { cause: error })),
      ),
    );
  } else if ("keyFile" in secret) master = readMemoryKeyFile(secret.keyFile);
  else {
    if (secret.key.length !== 32) throw new KeyError(`a memory key is 32 bytes, got ${secret.key.length}`);
    master = Buffer.from(secret.key);
  }
  return Buffer.from(hkdfSync("sha256", master, salt, `vin agent memory v${MEMORY_VERSION}\0${name}`, 32));
}

function keyCheck(key: Buffer): string {
  return createHmac("sha256", key).update("vin agent key check").digest("hex");
}

function aad(name: string, role: string): Buffer {
  return Buffer.from(`vin.agent.memory.v${MEMORY_VERSION}\0${name}\0${role}`);
}

function seal(key: Buffer, plain: Buffer, associated: Buffer): Buffer {
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(associated);
  return Buffer.concat([MAGIC, nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer, associated: Buffer, file: string): Buffer {
  if (sealed.length < MAGIC.length + NONCE_LENGTH + TAG_LENGTH || !sealed.subarray(0, MAGIC.length).equals(MAGIC))
    throw new MemoryIntegrityError(`${file} is not a sealed agent memory file`);
  const nonce = sealed.subarray(MAGIC.length, MAGIC.length + NONCE_LENGTH);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(associated);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(MAGIC.length + NONCE_LENGTH, -TAG_LENGTH)),
      decipher.final(),
    ]);
  } catch (cause) {
    throw new MemoryIntegrityError(`${file} does not open: it was changed, or belongs to another agent or place`, {
      cause,
    });
  }
}

function readExisting(file: string): Buffer {
  if (!existsSync(file)) throw new MemoryIntegrityError(`${file} is missing`);
  return readFileSync(file);
}

function parseKeyRecord(text: string, file: string): KeyFileRecord {
  let record: KeyFileRecord;
  try {
    record = JSON.parse(text) as KeyFileRecord;
  } catch (cause) {
    throw new MemoryIntegrityError(`${file} is not JSON`, { cause });
  }
  const okScrypt =
    record.kdf === "keyfile" ||
    (record.kdf === "scrypt" &&
      [record.scrypt?.N, record.scrypt?.r, record.scrypt?.p].every((v) => Number.isInteger(v) && v! > 0));
  if (
    record.version !== MEMORY_VERSION ||
    !okScrypt ||
    !/^[0-9a-f]{32}$/.test(record.salt) ||
    !/^[0-9a-f]{64}$/.test(record.check)
  )
    throw new MemoryIntegrityError(`${file} is malformed (version ${String(record.version)})`);
  return record;
}

function writeDurably(file: string, bytes: Buffer, flag: "wx"): void {
  const fd = openSync(file, flag, 0o600);
  try {
    writeFileSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
