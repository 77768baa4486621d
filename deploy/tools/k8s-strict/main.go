// Command k8s-strict reads a multi-document YAML stream (the output of `kustomize build`) on
// stdin and decodes every object strictly into its Kubernetes API type, as the API server's
// strict field validation would: a misspelled or misplaced field, a wrong type, an unknown
// kind or apiVersion fails with the object and the field named. It needs no cluster, so the
// manifests are checked on machines without one (npm test runs it from validate-deploy.mjs).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			fail(err)
		}
	}
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme, json.SerializerOptions{Yaml: true, Strict: true})

	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	count, bad := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(err)
		}
		if len(doc) == 0 {
			continue
		}
		count++
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			bad++
			name := "?"
			if gvk != nil {
				name = gvk.Kind
			}
			fmt.Fprintf(os.Stderr, "object %d (%s): %v\n", count, name, err)
			continue
		}
		_ = obj
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d objects failed strict decoding\n", bad, count)
		os.Exit(1)
	}
	fmt.Printf("%d objects decode strictly\n", count)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
