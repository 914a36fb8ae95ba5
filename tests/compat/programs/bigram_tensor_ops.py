"""A character bigram language model two ways, in the style of the "makemore" and "tensors" tutorials:
counting bigrams, then a one-layer network trained by gradient descent, then sampling names from it.

Written for descend's compatibility corpus (not a published program): it uses the tensor functions
tutorials reach for in this setting -- torch.unique, scatter_ / scatter_add_, einsum, norm and
linalg.vector_norm, prod, multinomial and the one-argument torch.where. Stored like the others, with only
its import lines naming descend; with them switched back it is a plain PyTorch program.
"""

import descend as torch
import descend.nn.functional as F

words = ("emma olivia ava isabella sophia charlotte mia amelia harper evelyn abigail emily elizabeth mila ella "
         "avery sofia camila aria scarlett victoria madison luna grace chloe penelope layla riley zoey nora lily "
         "eleanor hannah lillian addison aubrey ellie stella natalie zoe leah hazel violet aurora savannah audrey "
         "brooklyn bella claire skylar lucy paisley everly anna caroline nova genesis emilia kennedy samantha "
         "maya willow kinsley naomi aaliyah elena sarah ariana allison gabriella alice madelyn cora ruby eva "
         "serenity autumn adeline hailey gianna valentina isla eliana quinn nevaeh ivy sadie piper lydia alexa "
         "josephine emery julia delilah arianna vivian kaylee sophie brielle madeline").split()
text = "." + ".".join(words) + "."

# the vocabulary: the distinct characters, and every character's index into it
codes = torch.tensor([ord(c) for c in text])
chars, ids = torch.unique(codes, return_inverse=True)
V = len(chars)
itos = {i: chr(int(c)) for i, c in enumerate(chars.tolist())}
print(f"{len(words)} words, {len(text)} characters, vocabulary of {V}")
dots = torch.where(codes == ord("."))[0]
print(f"word boundaries: {len(dots)} (first at {dots[:3].tolist()})")

# 1) counting: N[a, b] = how often b follows a, by scatter_add_ into the flattened table
xs, ys = ids[:-1], ids[1:]
N = torch.zeros(V * V).scatter_add_(0, xs * V + ys, torch.ones(len(xs))).view(V, V)
P = (N + 1) / (N + 1).sum(1, keepdim=True)                  # add-one smoothing
count_nll = -torch.log(P[xs, ys]).mean()
print(f"count model: nll {count_nll.item():.6f}")
first = ids[1:7]                                             # the first word, "emma."
word_p = P[first[:-1], first[1:]].prod()
print(f"p(first word) = {word_p.item():.6e}, per-character {word_p.item() ** (1 / 5):.6f}")

# 2) the same model as a network: one-hot inputs (scatter_) times a weight matrix (einsum)
torch.manual_seed(2147483647)
W = torch.randn(V, V, requires_grad=True)
xenc = torch.zeros(len(xs), V).scatter_(1, xs.unsqueeze(1), 1.0)
for step in range(201):
    logits = torch.einsum("nv,vw->nw", xenc, W)
    loss = F.cross_entropy(logits, ys) + 0.01 * W.norm() ** 2 / V
    W.grad = None
    loss.backward()
    if step % 25 == 0:
        gnorm = torch.linalg.vector_norm(W.grad)
        print(f"step {step} loss {loss.item():.4f} grad-norm {gnorm.item():.4f}")
    with torch.no_grad():
        W -= 20.0 * W.grad

print(f"weight norms: fro {torch.linalg.norm(W).item():.3f}, max-abs {W.norm(p=float('inf')).item():.3f}, "
      f"row 1-norms sum {torch.norm(W, p=1, dim=1).sum().item():.3f}")

# 3) sampling names from the network's next-character distributions
torch.manual_seed(0)
dot = int(torch.where(chars == ord("."))[0])
names = []
for _ in range(5):
    out, ix = [], dot
    while len(out) < 20:
        p = F.softmax(W[ix], dim=0)
        ix = torch.multinomial(p, num_samples=1, replacement=True).item()
        if ix == dot:
            break
        out.append(itos[ix])
    names.append("".join(out))
print("samples:", " ".join(names))
print(f"final loss {loss.item():.4f}")
