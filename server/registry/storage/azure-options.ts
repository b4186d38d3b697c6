import { isMapping } from "../../config/shape.js";
import { requiredParam, stringParam, type DriverParams } from "./s3-options.js";

/**
 * The azure driver's options, read from distribution's `azure` parameters. Nothing here loads
 * the Azure SDK, so a configuration is checked without paying for it.
 */
export interface AzureDriverOptions {
  accountName: string;
  accountKey: string;
  container: string;
  /** The blob service's URL: `https://<account>.blob.<realm>` unless `serviceurl` says otherwise. */
  serviceURL: string;
  /** "" or "root/dir/", prepended to every blob name. */
  prefix: string;
}

/**
 * accountname, accountkey (or distribution 3.x's `credentials: {type: shared_key}` next to them),
 * container, realm (default core.windows.net), serviceurl (3.x; an emulator such as Azurite, or a
 * private endpoint), rootdirectory. 3.x's `client_secret` and `default_credentials` credential
 * types (Entra ID) are refused with a clear message: Berth signs with the account key only.
 */
export function azureOptionsFromParams(params: DriverParams): AzureDriverOptions {
  const credentials = params.credentials;
  if (credentials !== undefined && credentials !== null) {
    const type = isMapping(credentials) ? stringParam(credentials, "type") : undefined;
    if (type !== undefined && type !== "shared_key") {
      throw new Error(`storage.azure.credentials.type ${JSON.stringify(type)} is not supported: Berth authenticates with accountname and accountkey (type shared_key)`);
    }
  }
  const accountName = requiredParam("azure", params, "accountname");
  const realm = stringParam(params, "realm") ?? "core.windows.net";
  const root = (stringParam(params, "rootdirectory") ?? "").replace(/^\/+|\/+$/g, "");
  return {
    accountName,
    accountKey: requiredParam("azure", params, "accountkey"),
    container: requiredParam("azure", params, "container"),
    serviceURL: (stringParam(params, "serviceurl") ?? `https://${accountName}.blob.${realm}`).replace(/\/+$/, ""),
    prefix: root === "" ? "" : `${root}/`,
  };
}
