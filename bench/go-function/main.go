// Command go-function is the Go side of the benchmark: a composition function on Crossplane's
// Go SDK that works the way function-patch-and-transform does (base resources from its input,
// field-path patches from the composite, readiness from the observed Ready condition), so it
// can be given an input that composes the same resources as function-cross-platform-secret.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/crossplane/crossplane-runtime/v2/pkg/fieldpath"
	"github.com/crossplane/function-sdk-go"
	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/response"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Patch copies one field of the composite into one field of a composed resource.
type Patch struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ComposedTemplate is one composed resource: a base object and the patches applied to it.
type ComposedTemplate struct {
	Name    string         `json:"name"`
	Base    map[string]any `json:"base"`
	Patches []Patch        `json:"patches"`
}

// Input is the function's input, as a Composition passes it.
type Input struct {
	Resources []ComposedTemplate `json:"resources"`
}

// Function composes the input's resources.
type Function struct {
	fnv1.UnimplementedFunctionRunnerServiceServer
}

// RunFunction composes every resource of the input, patched from the observed composite.
func (f *Function) RunFunction(_ context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	rsp := response.To(req, response.DefaultTTL)

	raw, err := protojson.Marshal(req.GetInput())
	if err != nil {
		response.Fatal(rsp, fmt.Errorf("cannot read input: %w", err))
		return rsp, nil
	}
	in := &Input{}
	if err := json.Unmarshal(raw, in); err != nil {
		response.Fatal(rsp, fmt.Errorf("cannot parse input: %w", err))
		return rsp, nil
	}
	xr := fieldpath.Pave(req.GetObserved().GetComposite().GetResource().AsMap())

	if rsp.Desired == nil {
		rsp.Desired = &fnv1.State{}
	}
	if rsp.Desired.Resources == nil {
		rsp.Desired.Resources = map[string]*fnv1.Resource{}
	}
	for _, t := range in.Resources {
		obj := fieldpath.Pave(deepCopy(t.Base))
		for _, p := range t.Patches {
			v, err := xr.GetValue(p.From)
			if err != nil {
				continue
			}
			if err := obj.SetValue(p.To, v); err != nil {
				response.Fatal(rsp, fmt.Errorf("cannot patch %q of %q: %w", p.To, t.Name, err))
				return rsp, nil
			}
		}
		s, err := structpb.NewStruct(obj.UnstructuredContent())
		if err != nil {
			response.Fatal(rsp, fmt.Errorf("cannot encode %q: %w", t.Name, err))
			return rsp, nil
		}
		rsp.Desired.Resources[t.Name] = &fnv1.Resource{Resource: s, Ready: ready(req, t.Name)}
	}
	return rsp, nil
}

func ready(req *fnv1.RunFunctionRequest, name string) fnv1.Ready {
	o, ok := req.GetObserved().GetResources()[name]
	if !ok {
		return fnv1.Ready_READY_FALSE
	}
	conds, _ := fieldpath.Pave(o.GetResource().AsMap()).GetValue("status.conditions")
	list, _ := conds.([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return fnv1.Ready_READY_TRUE
		}
	}
	return fnv1.Ready_READY_FALSE
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}

func main() {
	address := flag.String("address", ":9443", "address to listen on")
	certs := flag.String("tls-server-certs-dir", os.Getenv("TLS_SERVER_CERTS_DIR"), "mTLS certificates")
	insecure := flag.Bool("insecure", false, "serve without TLS")
	flag.Parse()

	log, err := logging.NewLogger(false)
	if err != nil {
		panic(err)
	}
	_ = log
	err = function.Serve(&Function{},
		function.Listen("tcp", *address),
		function.MTLSCertificates(*certs),
		function.Insecure(*insecure))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
