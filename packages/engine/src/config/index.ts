// Instance config keys and devices: the tables and the validators that read them.
export * from './config-keys';
export * from './valid-config';
export * from './devices';
export * from './parse-cpuset';
export * from './parse-memory';
export * from './snapshot-schedule';
export * from './snapshot-expiry';
export * from './raw-lxc';
export * from './proxy-address';
export { isTrue, isFalseOrEmpty, type Check } from './value-checks';
