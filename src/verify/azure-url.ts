/** Key Vault URLs from ARM ids, without loading the Azure SDK. */
const ARM_VAULT_ID = new RegExp(
  '^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.KeyVault/vaults/([^/]+)/?$',
  'i',
);

/** Azure's own naming rule, so a typo fails here rather than as a DNS error at observe time. */
const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/i;

/** The data-plane URL of the vault an ARM resource id names. */
export function vaultUrlOf(vaultId: string, suffix = 'vault.azure.net'): string {
  const name = ARM_VAULT_ID.exec(vaultId.trim())?.[1];
  if (name === undefined || !VAULT_NAME.test(name) || name.includes('--')) {
    throw new Error(
      'vaultId must be a Key Vault resource id, /subscriptions/<subscription>/resourceGroups/' +
        `<group>/providers/Microsoft.KeyVault/vaults/<name>; got ${JSON.stringify(vaultId)}`,
    );
  }
  return `https://${name.toLowerCase()}.${suffix.replace(/^\.+/, '')}`;
}
