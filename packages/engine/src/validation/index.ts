// Pure validation helpers that mirror LXD 5.0.2's rules (see each module).
export * from './valid-name';
export * from './random-instance-name';
export * from './random-source';
export * from './raw-idmap';
export * from './subid-file';
export * from './idmap-set';
export * from './hwaddr';
export * from './timestamp';
export * from './compare-snapshots';
