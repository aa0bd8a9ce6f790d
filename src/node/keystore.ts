import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Wallet, encryptKeystoreJson, type HDNodeWallet } from "ethers";
import { KeyError } from "../core/errors";

/** Where the keystore password comes from: `--password-file`, else the `VIN_PASSWORD` environment variable. */
export function readPassword(passwordFile?: string): string {
  if (passwordFile !== undefined) {
    if (!existsSync(passwordFile)) throw new KeyError(`password file ${passwordFile} not found`);
    return readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
  }
  const password = process.env.VIN_PASSWORD;
  if (password === undefined || password === "")
    throw new KeyError("no keystore password: set VIN_PASSWORD or pass --password-file");
  return password;
}

/**
 * Creates a new random key and writes it as an encrypted ethers (Web3 v3) keystore; refuses to overwrite.
 * @example const address = await createKeystore("data/keystore.json", password);
 */
export async function createKeystore(file: string, password: string, scryptN = 131_072): Promise<string> {
  if (existsSync(file))
    throw new KeyError(`keystore ${file} already exists: it is never overwritten; pick another data directory`);
  const wallet: HDNodeWallet = Wallet.createRandom();
  const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, password, {
    scrypt: { N: scryptN },
  });
  writeFileSync(file, json, { mode: 0o600, flag: "wx" });
  return wallet.address;
}

/** Decrypts the operator key; a wrong password or a damaged file is one KeyError. */
export async function loadKeystore(file: string, password: string): Promise<Wallet> {
  if (!existsSync(file))
    throw new KeyError(`keystore ${file} not found: run \`vin init\` or fix "keystore" in the config`);
  const json = readFileSync(file, "utf8");
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch (cause) {
    const wrong = /password/i.test(String((cause as Error)?.message));
    throw new KeyError(
      wrong
        ? `wrong password for keystore ${file}: check VIN_PASSWORD or --password-file`
        : `keystore ${file} is not a valid encrypted key`,
      { cause },
    );
  }
}
