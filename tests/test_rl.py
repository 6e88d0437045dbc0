"""Does grading of the rl assignment tell a correct hand-in from a wrong one, however it is written?

Each hand-in below is the source notebook with some answer cells replaced: an alternative correct
implementation written in another style (the aces counted one by one, a dealer who keeps their own
sum and reads the deck with a for loop, the outcome as a comparison of scores, value iteration with
loops and in-place sweeps, epsilon-greedy as a draw from the policy's probabilities, the step count
of Q-learning in a plain dict, the policy gradient summed pull by pull, REINFORCE with the running
mean of every reward as its baseline) must score full marks, and each typical mistake must lose
exactly the parts that test what it breaks, with feedback that names the problem. All hand-ins are
graded in one batch, as a teacher would.

The rules of the game are used by everything built on them: a wrong `hand_value` also makes the
dealer play wrong, and a rule that changes the game changes the exact optimum of part 4. Q-learning
on blackjack is graded against the optimum of the student's own rules, so a changed rule that
leaves the game learnable does not cost that part too.
"""

import pytest
from conftest import REPO
from hand_ins import Mistake, check_grading

SOURCE = REPO / "source_notebooks" / "rl" / "rl.ipynb"

ALTERNATIVE = {
    "hand_value": """
def hand_value(cards):
    total, aces = 0, 0
    for card in cards:
        total += card
        aces += card == 1
    if aces and total <= 11:
        return total + 10, True
    return total, False
""",
    # The dealer's own running sum, soft or hard, without hand_value; the deck read by a for loop.
    "dealer_play": """
def dealer_play(cards, deck):
    hand = [*cards]
    total = sum(hand)
    soft = 1 in hand and total <= 11
    if (total + 10 if soft else total) >= 17:
        return hand
    for card in deck:
        hand.append(card)
        total += card
        soft = 1 in hand and total <= 11
        if (total + 10 if soft else total) >= 17:
            break
    return hand
""",
    "settle": """
def settle(player, dealer, natural=1.0):
    def score(hand):
        value = hand_value(hand)[0]
        return {"natural": len(hand) == 2 and value == 21, "sum": value, "bust": value > 21}

    me, them = score(player), score(dealer)
    if me["natural"] and them["natural"]:
        return 0.0
    if me["natural"]:
        return natural * 1.0
    if me["bust"]:
        return -1.0
    if them["bust"]:
        return 1.0
    return float((me["sum"] > them["sum"]) - (me["sum"] < them["sum"]))
""",
    # Gauss-Seidel sweeps: each new value is used at once, in the same sweep.
    "value_iteration": """
def value_iteration(P, R, gamma, tol=1e-10):
    states, actions = R.shape
    q = np.zeros((states, actions))
    while True:
        largest = 0.0
        for s in range(states):
            for a in range(actions):
                new = R[s, a] + gamma * sum(P[s, a, t] * max(q[t]) for t in range(states))
                largest = max(largest, abs(new - q[s, a]))
                q[s, a] = new
        if largest < tol:
            return q
""",
    "epsilon_greedy": """
def epsilon_greedy(q_values, epsilon, rng):
    n = len(q_values)
    probabilities = np.full(n, epsilon / n)
    probabilities[np.argmax(q_values)] += 1 - epsilon
    return int(rng.choice(n, p=probabilities))
""",
    "q_update": """
def q_update(q, state, action, reward, next_state, done, alpha, gamma):
    target = reward
    if not done:
        target = reward + gamma * max(q[next_state])
    error = target - q[state][action]
    q[state][action] = q[state][action] + alpha * error
    return error
""",
    "q_learning": """
def q_learning(env, episodes, rng, epsilon=0.1, alpha=None, gamma=1.0, actions=2):
    table, counts = new_table(actions), {}
    episode = 0
    while episode < episodes:
        s, reward, done = env.reset()
        while not done:
            a = epsilon_greedy(table[s], epsilon, rng)
            s_next, reward, done = env.step(a)
            counts[(s, a)] = counts.get((s, a), 0) + 1
            q_update(table, s, a, reward, s_next, done, 1 / counts[(s, a)] if alpha is None else alpha, gamma)
            s = s_next
        episode += 1
    return table
""",
    "policy_gradient": """
def policy_gradient(theta, actions, rewards, baseline=0.0):
    theta = np.array(theta, dtype=float)
    pi = np.exp(theta - theta.max())
    pi /= pi.sum()
    baselines = np.broadcast_to(np.asarray(baseline, dtype=float), (len(actions),))
    total = np.zeros_like(theta)
    for a, r, b in zip(actions, rewards, baselines):
        grad_log = -pi.copy()
        grad_log[a] += 1.0
        total += (r - b) * grad_log
    return total / len(actions)
""",
    # The baseline: the mean of every reward so far, this batch's included.
    "reinforce": """
def reinforce(bandit, steps, batch, lr, rng, baseline=True):
    theta = np.zeros(len(bandit.means))
    seen, summed = 0, 0.0
    for _ in range(steps):
        arms = rng.choice(len(theta), size=batch, p=softmax(theta))
        rewards = bandit.pull(arms, rng)
        seen, summed = seen + batch, summed + rewards.sum()
        theta += lr * policy_gradient(theta, arms, rewards, summed / seen if baseline else 0.0)
    return theta
""",
}

# Each mistake: the answer cell it edits, the text it replaces and by what, and the parts it must lose
# with a phrase each one's feedback must contain.
_EDITS = {
    # A soft 21 read as a hard 11: an ace and a ten are no natural, and the dealer draws to a soft 21.
    "soft-21-not-counted": (
        "hand_value",
        "soft <= 21",
        "soft < 21",
        {
            "test_hand_value": "should be (21, True)",
            "test_dealer_play": "stand on every 17",
            "test_settle": "should be 1",
            "test_optimum": "280 states",
        },
    ),
    # The casino rule "hit soft 17" instead of the chapter's "stand on every 17".
    "dealer-hits-soft-17": (
        "dealer_play",
        "while hand_value(hand)[0] <= 16:",
        "while hand_value(hand)[0] <= 16 or hand_value(hand) == (17, True):",
        {"test_dealer_play": "the dealer stands on 17 or more", "test_optimum": "check parts 1 to 3"},
    ),
    # Both bust: the player's bust checked after the dealer's, so a player who busts can still win.
    "player-bust-after-dealer-bust": (
        "settle",
        "    if mine > 21:\n        return -1.0\n    if theirs > 21 or mine > theirs:",
        "    if theirs > 21:\n        return 1.0\n    if mine > 21:\n        return -1.0\n    if mine > theirs:",
        {"test_settle": "should be -1"},
    ),
    # Every natural pays, also against the dealer's.
    "natural-beats-a-dealer-natural": (
        "settle",
        "return 0.0 if dealer_natural else float(natural)",
        "return float(natural)",
        {"test_settle": "should be 0", "test_optimum": "check parts 1 to 3"},
    ),
    # The mean over the next actions: the values of the uniformly random policy, not of the best one.
    "value-iteration-with-the-mean": (
        "value_iteration",
        "q.max(axis=1)",
        "q.mean(axis=1)",
        {"test_value_iteration": "max_a2 Q(s2, a2)"},
    ),
    # The global generator: runs cannot be repeated from a seed.
    "epsilon-greedy-with-np-random": (
        "epsilon_greedy",
        "explore = rng.random() < epsilon",
        "explore = np.random.random() < epsilon",
        {"test_epsilon_greedy": "draw every random number from rng"},
    ),
    # A final step bootstrapped from the state it ended in.
    "q-update-bootstraps-past-the-end": (
        "q_update",
        "future = 0.0 if done else gamma * float(np.max(q[next_state]))",
        "future = gamma * float(np.max(q[next_state]))",
        {"test_q_update": "r alone when done", "test_q_learning_blackjack": "within 0.02"},
    ),
    # The target of the action taken (SARSA's, with the same action again) instead of the best one.
    "q-update-without-the-max": (
        "q_update",
        "float(np.max(q[next_state]))",
        "float(q[next_state][action])",
        {
            "test_q_update": "max_a2 Q(s2, a2)",
            "test_q_learning": "epsilon_greedy(q[state], ...)",
            "test_q_learning_blackjack": "within 0.02",
        },
    ),
    # alpha None read as a step of 1: each estimate is its latest noisy target.
    "q-learning-without-the-visit-count": (
        "q_learning",
        "1.0 / visits[state, action]",
        "1.0",
        {"test_q_learning": "1 / n(s, a)", "test_q_learning_blackjack": "within 0.02"},
    ),
    # The score function e_a without - pi: right in the mean only when the advantages sum to zero, so
    # REINFORCE with the batch's mean as its baseline still learns, but without a baseline its steps grow.
    "policy-gradient-without-minus-pi": (
        "policy_gradient",
        "np.eye(len(probabilities))[np.asarray(actions)] - probabilities",
        "np.eye(len(probabilities))[np.asarray(actions)]",
        {"test_policy_gradient": "(e_0 - pi)", "test_reinforce": "is above the bound"},
    ),
    # Gradient descent on the expected reward: the policy learns to pull the worst arm.
    "reinforce-descends": (
        "reinforce",
        "theta = theta + lr * policy_gradient",
        "theta = theta - lr * policy_gradient",
        {"test_reinforce": "theta += lr * policy_gradient"},
    ),
    # The batch's mean reward as the baseline whatever the flag says.
    "reinforce-ignores-the-baseline-flag": (
        "reinforce",
        "b = rewards.mean() if baseline else 0.0",
        "b = rewards.mean()",
        {"test_reinforce": "baseline=False: subtract nothing"},
    ),
}

MISTAKES = {name: Mistake(answer, old, new, lost) for name, (answer, old, new, lost) in _EDITS.items()}


@pytest.mark.slow
def test_grading_rewards_any_correct_style_and_names_each_mistake(course, make_class, tmp_path):
    check_grading(course, make_class, tmp_path / "out", "rl", ALTERNATIVE, MISTAKES)
