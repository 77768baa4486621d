import * as net from "node:net";

/**
 * A service address in front of the replicas of one service, as a Kubernetes Service is (kube-
 * proxy balances connections, not calls): each new connection goes to the next replica that
 * accepts it, so when a replica dies its clients' connections break and reconnect elsewhere.
 */
export class Balancer {
  private next = 0;
  private readonly sockets = new Set<net.Socket>();

  private readonly server: net.Server;
  readonly port: number;

  private constructor(server: net.Server, port: number) {
    this.server = server;
    this.port = port;
  }

  /** Balances over `backends` (ports on 127.0.0.1), listening on `port` (0: one the system picks). */
  static async start(backends: number[], port = 0): Promise<Balancer> {
    // The server needs its Balancer before the Balancer (which needs the port) exists.
    const ref: { balancer?: Balancer } = {};
    const server = net.createServer((client) => ref.balancer?.accept(client, backends));
    const bound = await new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
    });
    ref.balancer = new Balancer(server, bound);
    return ref.balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket, backends: number[]): void {
    client.pause();
    this.track(client);
    const tryBackend = (attempt: number) => {
      if (attempt >= backends.length) {
        client.destroy();
        return;
      }
      const port = backends[this.next++ % backends.length];
      const upstream = net.connect(port, "127.0.0.1");
      upstream.once("connect", () => {
        this.track(upstream);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        client.resume();
      });
      upstream.once("error", () => tryBackend(attempt + 1));
    };
    tryBackend(0);
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => undefined);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
