from ganbench.data.summary import write_summary_table

write_summary_table(list(snakemake.input), snakemake.output[0])
