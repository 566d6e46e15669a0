export { startRedis, freePort, redisServerBin, redisCliBin, type RedisServer, type RedisServerOptions } from './redis-server';
export { waitFor, sleep, uniquePrefix, type WaitForOptions } from './wait';
export { startCluster, type RedisCluster } from './cluster';
export { startTcpProxy, type TcpProxy } from './tcp-proxy';
