from ganbench.data.stylegan_zip import convert_to_zip

spec = snakemake.params.spec
convert_to_zip(
    snakemake.input[0],
    snakemake.output.images,
    resolution=snakemake.params.resolution,
    transform=spec["transform"],
    max_images=spec["max_images"],
    pattern=spec.get("pattern"),
)
