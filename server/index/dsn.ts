/**
 * `console.index.dsn`: where the shared MySQL/MariaDB index is. Two spellings are accepted: a URL,
 * `mysql://user:password@host:3306/database` (`mariadb://` too; `?socket=/path` for a Unix
 * socket), and the Go driver's form that registries like seed 003's use,
 * `user:password@tcp(host:3306)/database?loc=Local&parseTime=true` (`unix(/path)` for a socket;
 * the Go driver's own parameters mean nothing here and are ignored).
 */
export interface MysqlDsn {
  user: string;
  password: string;
  host: string;
  port: number;
  socketPath?: string;
  database: string;
}

export class DsnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DsnError";
  }
}

const defaultPort = 3306;
const goForm = /^([^:@/]*)(?::(.*))?@(tcp|unix)\(([^)]*)\)\/([^?]*)(?:\?.*)?$/s;

/** Parses either spelling; DsnError says what is wrong (never echoing the password). */
export function parseMysqlDsn(dsn: string): MysqlDsn {
  const go = goForm.exec(dsn);
  if (go) {
    const [, user = "", password = "", network, address = "", database = ""] = go;
    if (network === "unix") return checked({ user, password, host: "localhost", port: defaultPort, socketPath: address, database });
    const { host, port } = hostPort(address);
    return checked({ user, password, host, port, database });
  }
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new DsnError("expected mysql://user:password@host:port/database or user:password@tcp(host:port)/database");
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") throw new DsnError(`expected a mysql:// or mariadb:// URL, got ${url.protocol}//`);
  const socketPath = url.searchParams.get("socket") ?? undefined;
  const port = url.port ? Number(url.port) : defaultPort;
  return checked({
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    host: url.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port,
    ...(socketPath ? { socketPath } : {}),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")),
  });
}

function hostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(address);
  if (!match) throw new DsnError(`cannot read host:port from tcp(${address})`);
  return { host: match[1] ?? (match[2] || "localhost"), port: match[3] ? Number(match[3]) : defaultPort };
}

function checked(dsn: MysqlDsn): MysqlDsn {
  if (!dsn.user) throw new DsnError("the DSN names no user");
  if (!dsn.database) throw new DsnError("the DSN names no database");
  if (dsn.database.includes("/")) throw new DsnError(`the database name ${JSON.stringify(dsn.database)} contains "/"`);
  if (!Number.isInteger(dsn.port) || dsn.port < 1 || dsn.port > 65535) throw new DsnError(`port ${dsn.port} is out of range`);
  return dsn;
}

/** The DSN as shown in logs and status: everything but the password. */
export function displayDsn(dsn: MysqlDsn): string {
  const where = dsn.socketPath ? `unix(${dsn.socketPath})` : `${dsn.host.includes(":") ? `[${dsn.host}]` : dsn.host}:${dsn.port}`;
  return `mysql://${dsn.user}@${where}/${dsn.database}`;
}
