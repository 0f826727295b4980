from ganbench.data.stylegan_zip import convert_to_tfrecord

convert_to_tfrecord(snakemake.input[0], snakemake.output[0])
