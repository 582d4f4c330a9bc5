package config

// Starter is the commented file `assetpack config init` writes.
const Starter = `# assetpack.yaml — how this repository's content is packed, pushed, signed
# and mounted. Schema: assetpack.schema.json in the assetpack repository.
# Run "assetpack build" with no arguments to use it; any flag overrides a key.

# Directory to pack, relative to this file.
source: ./site

# Directory inside the image holding the files; mount it with subPath: site.
prefix: site

# Where "assetpack build" pushes (with push: true or --push).
repository: registry.example.com/web/site-assets
# Go templates filled from git: {{.Commit}}, {{.ShortCommit}}, {{.Branch}},
# {{.Tag}} (a tag at HEAD), {{.Date}} (commit date, YYYYMMDD).
tags:
  - "{{.ShortCommit}}"
  - latest
push: false

# platforms: [linux/amd64]         # several give an image index
# compression: auto                # auto (none for incompressible data, else gzip), gzip, zstd or none
# layers: auto                     # auto (large files alone, the rest in groups) or single
# annotations: {org.opencontainers.image.description: "Marketing site"}
# labels: {team: web}
# excludes: ["*.psd", "/drafts/"]  # added to .assetignore
# uploadMode: auto                 # auto (each registry's own way), monolithic, streamed or chunked
# uploadChunkSize: 8MiB            # PATCH chunks of this size (implies chunked unless uploadMode is set)

# sign:
#   key: cosign.key                # or awskms://…; keyless: true for Fulcio + Rekor
#   attestFiles: true

# kubernetes:
#   workload: deployment/web
#   containers: [nginx]
#   mountPath: /usr/share/nginx/html
#   format: kustomize              # strategic, json6902, pod or kustomize
#   output: k8s/assets             # written after each push
`
