package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/internal/pki"
)

// newTLSCommand builds `novacron tls`: the cluster's certificate authority and
// the certificates of its nodes and operators (package pki).
func newTLSCommand(a *app) *cobra.Command {
	return newGroupCommand("tls", "Create the cluster's CA and its node and client certificates",
		newTLSCACommand(a), newTLSCertCommand(a))
}

func newTLSCACommand(a *app) *cobra.Command {
	var out, name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a certificate authority: OUT/ca.pem and OUT/ca-key.pem",
		Long: `Create the cluster's certificate authority: OUT/ca.pem (give it to every node and
client) and OUT/ca-key.pem (keep it off the nodes; it signs every certificate).
Both files are 0600; an existing file is never overwritten.`,
		Args: exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			ca, err := pki.CreateCA(out, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "CA %q written to %s/%s and %s/%s (valid until %s)\n",
				name, out, pki.CAFile, out, pki.CAKeyFile, ca.Cert.NotAfter.Format("2006-01-02"))
			return nil
		},
	}
	create.Flags().StringVar(&out, "out", ".", "folder to write the CA into")
	create.Flags().StringVar(&name, "name", "NovaCron cluster CA", "the CA's common name")
	return newGroupCommand("ca", "Manage the cluster's certificate authority", create)
}

func newTLSCertCommand(a *app) *cobra.Command {
	var caDir, out, node string
	var ips, dnsNames []string
	var cli bool
	create := &cobra.Command{
		Use:   "create --ca DIR (--node NAME --ip IP... | --cli)",
		Short: "Create a node certificate (NAME.pem, NAME-key.pem) or a client one (cli.pem, cli-key.pem)",
		Long: `Sign a certificate with the CA in DIR (ca.pem, ca-key.pem).

A node certificate (--node NAME) names the node (its --name) and the addresses it
serves on (--ip, repeatable, and --dns): it serves the node's API and lets it call
the other nodes' internal endpoints. A client certificate (--cli) lets an operator's
CLI authenticate with TLS besides its token. Files are 0600 and never overwritten.`,
		Args: exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			if caDir == "" {
				return usagef("--ca is required: the folder holding ca.pem and ca-key.pem")
			}
			if cli == (node != "") {
				return usagef("give either --node NAME or --cli")
			}
			req := pki.Request{Name: "cli", Unit: pki.ClientUnit}
			if !cli {
				req = pki.Request{Name: node, Unit: pki.NodeUnit, DNSNames: dnsNames}
				for _, s := range ips {
					ip := net.ParseIP(s)
					if ip == nil {
						return usagef("--ip %q is not an IP address", s)
					}
					req.IPs = append(req.IPs, ip)
				}
				if len(req.IPs) == 0 && len(req.DNSNames) == 0 {
					return usagef("a node certificate needs the node's addresses: --ip (repeatable) or --dns")
				}
			}
			ca, err := pki.LoadCA(caDir)
			if err != nil {
				return err
			}
			certPath, keyPath, err := ca.Issue(out, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "certificate for %q written to %s and %s\n", req.Name, certPath, keyPath)
			return nil
		},
	}
	fl := create.Flags()
	fl.StringVar(&caDir, "ca", "", "folder holding ca.pem and ca-key.pem")
	fl.StringVar(&out, "out", ".", "folder to write the certificate into")
	fl.StringVar(&node, "node", "", "node name (its --name) for a node certificate")
	fl.StringSliceVar(&ips, "ip", nil, "an IP address the node serves on (repeatable)")
	fl.StringSliceVar(&dnsNames, "dns", nil, "a DNS name the node serves on (repeatable)")
	fl.BoolVar(&cli, "cli", false, "create a client certificate for the CLI instead")
	return newGroupCommand("cert", "Manage node and client certificates", create)
}
