untrusted comment: verify with ferry key (forged for a test)
RWRJ5NzwanWxrvPfDs+afZCFUoRpqhf0+Cv9AQSrafGhJ7tZVJnLu92wCH3qmd8FQuYT/QKsaC+L3OobPnMFjum8iNVopmG/Kgc=
SHA256 (volume.toml) = d777412fae352b2a6ffe26fe0d4edae1a650b3591f6a1c51abd46462bf37f0c1
SHA256 (manifest.toml) = 903732414ffcf0da0965d4e265182cc2a988d253b78c10ca6f5073ebeafd9bc6
SHA256 (README.txt) = bca09f4a757d5571c7d9f3341d4301f3c391c090826acc1a3013c6bcb7c01722
SHA256 (packs/0002.ferrypack) = 61500947b50555a48184efbf97589e4daaa6b813fcee9337771be5e057bbe40e
