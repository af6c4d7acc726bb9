// NAT for a bridge with `ipv4.nat=true`: one chain per network,
// `pstrt.<bridge>`, in Berth's own nftables table `ip berth` (LXD keeps its
// own `inet lxd` table the same way), so adding and removing rules never
// touches anyone else's firewall.
export const NAT_TABLE = 'berth';

export function natChainOf(bridge: string): string {
  return `pstrt.${bridge}`;
}

/** An `nft -f -` script that (re)creates the network's chain with one masquerade rule. */
export function natAddScript(bridge: string, subnet: string): string {
  const chain = natChainOf(bridge);
  return [
    `add table ip ${NAT_TABLE}`,
    `add chain ip ${NAT_TABLE} ${chain} { type nat hook postrouting priority 100; policy accept; }`,
    `flush chain ip ${NAT_TABLE} ${chain}`,
    `add rule ip ${NAT_TABLE} ${chain} ip saddr ${subnet} ip daddr != ${subnet} masquerade`,
    '',
  ].join('\n');
}

/** An `nft -f -` script that removes the network's chain (the caller checks it exists). */
export function natRemoveScript(bridge: string): string {
  const chain = natChainOf(bridge);
  return [`flush chain ip ${NAT_TABLE} ${chain}`, `delete chain ip ${NAT_TABLE} ${chain}`, ''].join(
    '\n',
  );
}
