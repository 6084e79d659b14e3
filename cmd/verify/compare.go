package main

import (
	"github.com/spf13/cobra"

	"github.com/org/immutos-action/internal/pipeline"
)

func newCompareCommand() *cobra.Command {
	var b buildFlags
	cmd := &cobra.Command{
		Use:   "compare RECORD... [flags]",
		Short: "Decide from the records of several builders (matrix mode)",
		Long: `Compare the records written by 'immutos-verify build --mode record' on two or more
builders (each RECORD a record.json or the directory holding it). Artifacts whose digests
differ are compared file by file from their manifests, or as images when the image is
found at its recorded path or beside the record. Writes the same reports, index.json
and (when reproducible) bundles as build. Exit 0 reproducible, 1 not, 2 trouble.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := b.finish(cmd); err != nil {
				return err
			}
			g, err := b.githubSetup(cmd)
			if err != nil {
				return err
			}
			out, err := pipeline.ExecuteCompare(&b.cfg, g, args)
			if err != nil {
				return trouble(err)
			}
			return verdictExit(out.Result, g, cmd.OutOrStdout())
		},
	}
	b.register(cmd, false)
	return cmd
}
